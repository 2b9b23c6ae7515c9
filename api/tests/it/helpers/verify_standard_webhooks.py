"""Verifies recorded webhook requests with the reference `standardwebhooks` package.

Usage: python verify_standard_webhooks.py SECRET REQUESTS.json
REQUESTS.json holds [{"headers": {name: value}, "body": base64}]; prints one JSON
line: [{"verified": true, "payload": ...} | {"verified": false, "error": "..."}].
"""

import base64
import json
import sys

from standardwebhooks.webhooks import Webhook


def main() -> None:
    secret, path = sys.argv[1], sys.argv[2]
    verifier = Webhook(secret)
    with open(path, encoding="utf-8") as file:
        requests = json.load(file)
    results = []
    for request in requests:
        body = base64.b64decode(request["body"])
        try:
            payload = verifier.verify(body, request["headers"])
            results.append({"verified": True, "payload": payload})
        except Exception as error:  # the library raises its own WebhookVerificationError
            results.append({"verified": False, "error": str(error)})
    print(json.dumps(results))


if __name__ == "__main__":
    main()
