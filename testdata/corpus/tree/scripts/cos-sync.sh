#!/bin/sh
# Nightly COS sync, run by the backup user's cron.
# The API key's SecretId alone names the sub-account (it is not a secret),
# but it is how the key is found: rotate both together.
export TENCENTCLOUD_SECRET_ID=IKIDfRcFz4u2eQKnK6SeR6F4GuY0bq8deOfO
export TENCENTCLOUD_REGION=ap-shanghai
# Documentation example, masked as the console shows it: AKID****J5yKBZQpn74WFkmLPx3gnPhESA
coscli sync /var/backups cos://orders-backups-1250000000/nightly
