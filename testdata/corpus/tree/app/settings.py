import os

DEBUG = os.environ.get("DEBUG") == "1"
SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]

# TODO: move to the vault before the audit
AWS_ACCESS_KEY_ID = "AKIAIZZXXN7EPGWZQXQC"
AWS_SECRET_ACCESS_KEY = "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"
AWS_REGION = "eu-west-1"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "PASSWORD": os.environ.get("DB_PASSWORD", ""),
        "HOST": "db-prod.internal",
    }
}

def get_token(request):
    token = request.headers.get("Authorization", "")
    password = request.form["password"]
    return token, password
