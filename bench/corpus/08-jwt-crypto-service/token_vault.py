"""Issue short-lived JWTs and keep encrypted secrets at rest with AES-GCM."""

import base64
import json
import os
import time

import jwt
from Crypto.Cipher import AES
from Crypto.Random import get_random_bytes
from dotenv import load_dotenv

load_dotenv()
SIGNING_KEY = os.environ["VAULT_SIGNING_KEY"]
MASTER_KEY = base64.b64decode(os.environ["VAULT_MASTER_KEY"])


def issue_token(subject: str, scopes: list[str], ttl: int = 900) -> str:
    now = int(time.time())
    claims = {"sub": subject, "scp": scopes, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, SIGNING_KEY, algorithm="HS256")


def check_token(token: str) -> dict:
    return jwt.decode(token, SIGNING_KEY, algorithms=["HS256"], options={"require": ["exp"]})


def seal(secret: dict) -> str:
    nonce = get_random_bytes(12)
    cipher = AES.new(MASTER_KEY, AES.MODE_GCM, nonce=nonce)
    data, tag = cipher.encrypt_and_digest(json.dumps(secret).encode())
    return base64.b64encode(nonce + tag + data).decode()


def unseal(blob: str) -> dict:
    raw = base64.b64decode(blob)
    nonce, tag, data = raw[:12], raw[12:28], raw[28:]
    cipher = AES.new(MASTER_KEY, AES.MODE_GCM, nonce=nonce)
    return json.loads(cipher.decrypt_and_verify(data, tag))


if __name__ == "__main__":
    tok = issue_token("batch-job-17", ["read:results"])
    print(check_token(tok)["sub"])
    print(unseal(seal({"db_password": "hunter2"})))
