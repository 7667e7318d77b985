terraform {
  required_providers {
    tencentcloud = {
      source  = "tencentcloudstack/tencentcloud"
      version = "~> 1.81"
    }
  }
}

# Backups of the orders database go to COS in Shanghai.
provider "tencentcloud" {
  region     = "ap-shanghai"
  secret_id  = "AKID38aIBnYYURLgfB0eKJkwreHBIgJLVHKt"
  secret_key = "P3skqoO6cD6RVAU5KhVrWmZZUvTyKWmj"
}

resource "tencentcloud_cos_bucket" "backups" {
  bucket = "orders-backups-1250000000"
  acl    = "private"
}
