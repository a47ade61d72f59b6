#!/usr/bin/env python3
"""Writes the seed corpora of the libFuzzer targets in tests/fuzz/corpus/.

Seeds are realistic inputs in each target's input layout (see the comment at
the top of each *_fuzz.cpp). The notification seeds need no crypto here: in
its sealed modes notification_fuzz encrypts and signs the plaintext itself;
its raw seeds replay the genuinely signed notifications of the vectors file.

    tests/fuzz/make_seeds.py            # rewrites every generated seed
"""

import json
import os
import pathlib

root = pathlib.Path(__file__).resolve().parents[2]
corpus = root / "tests" / "fuzz" / "corpus"
vectors = json.loads((root / "tests/data/wechatpay/wechatpay_v3.json").read_text())


def write(target, name, data):
    folder = corpus / target
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (folder / name).write_bytes(data)


def compact(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# -- plaintexts and bodies, shared -------------------------------------------------

transaction = vectors["notification"]["decrypted_resource"]
notpay = compact({"mchid": "1900000001", "appid": "wx8888888888888888",
                  "out_trade_no": "A2026112600002", "trade_state": "NOTPAY",
                  "trade_state_desc": "订单未支付"})
refund_event = compact({
    "mchid": "1900000001", "out_trade_no": "A2026112600001",
    "transaction_id": "4200002026112612345678901234", "out_refund_no": "R2026112600001",
    "refund_id": "50300002026112612345678901234", "refund_status": "SUCCESS",
    "success_time": "2026-11-26T12:00:00+08:00", "user_received_account": "支付用户零钱",
    "amount": {"total": 100, "refund": 100, "payer_total": 100, "payer_refund": 100}})
api_error = compact({"code": "ORDERPAID", "message": "该订单已支付，请勿重复操作",
                     "detail": {"field": "out_trade_no"}})
prepay_request = compact({
    "appid": "wx8888888888888888", "mchid": "1900000001", "description": "Image形象店-深圳腾大-QQ公仔",
    "out_trade_no": "A2026112600001", "time_expire": "2026-11-26T12:00:00+08:00",
    "attach": "cart=3", "notify_url": "https://merchant.example/v1/wechatpay/notify",
    "amount": {"total": 100, "currency": "CNY"}, "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}})


# -- notification_fuzz ----------------------------------------------------------------

def notification_seed(mode, mask=0, skew=0, tamper=(0, 0), fields=()):
    head = bytes([mode, mask, skew & 0xFF, tamper[0], tamper[1] & 0xFF, tamper[1] >> 8])
    return head + b"\0".join(f.encode() if isinstance(f, str) else f for f in fields)


def raw(vector):
    h = vector["headers"]
    return notification_seed(0, fields=[
        h["Wechatpay-Timestamp"], h["Wechatpay-Nonce"], h["Wechatpay-Signature"],
        h["Wechatpay-Serial"], h["Wechatpay-Signature-Type"], vector["body"]])


negative = vectors["notification_negative"]
write("notification", "raw_vector", raw(vectors["notification"]))
write("notification", "raw_body_tampered", raw(negative["body_tampered"]))
write("notification", "raw_probe_signature", raw(negative["probe_signature"]))
write("notification", "raw_unknown_serial", raw(negative["unknown_serial"]))
write("notification", "raw_gcm_tag_tampered", raw(negative["gcm_tag_tampered"]))
write("notification", "raw_stale", notification_seed(0, skew=61, fields=[
    f for f in [vectors["notification"]["headers"][k] for k in (
        "Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial",
        "Wechatpay-Signature-Type")] + [vectors["notification"]["body"]]]))
empty_headers = ["", "", "", "", ""]
write("notification", "sealed_payment",
      notification_seed(1, fields=empty_headers + ["TRANSACTION.SUCCESS", "fdasflkja484",
                                                   "transaction", transaction]))
write("notification", "sealed_payment_certificate",
      notification_seed(1 | 4, skew=-30, fields=empty_headers + [
          "TRANSACTION.SUCCESS", "a1b2c3d4e5f6", "", transaction]))
write("notification", "sealed_notpay",
      notification_seed(1, fields=empty_headers + ["TRANSACTION.SUCCESS", "fdasflkja484",
                                                   "transaction", notpay]))
write("notification", "sealed_refund",
      notification_seed(1 | 8, fields=empty_headers + ["REFUND.SUCCESS", "0123456789ab",
                                                       "refund", refund_event]))
write("notification", "sealed_other_event",
      notification_seed(1, fields=empty_headers + ["PAYSCORE.USER_CONFIRM", "fdasflkja484",
                                                   "payscore", api_error]))
write("notification", "sealed_probe_header",
      notification_seed(1, mask=4, fields=["", "", "WECHATPAY/SIGNTEST/" + "A" * 40, "", "",
                                           "TRANSACTION.SUCCESS", "fdasflkja484",
                                           "transaction", transaction]))
write("notification", "sealed_serial_lower",
      notification_seed(1 | 4, mask=8, fields=["", "", "", "5c3e1d2a9b8f7e6d5c4b3a291807f6e5d4c3b2a1",
                                               "", "TRANSACTION.SUCCESS", "fdasflkja484",
                                               "transaction", transaction]))
write("notification", "sealed_tampered",
      notification_seed(2, tamper=(1, 300), fields=empty_headers + [
          "TRANSACTION.SUCCESS", "fdasflkja484", "transaction", transaction]))

# -- models_fuzz ----------------------------------------------------------------------

write("models", "notification", vectors["notification"]["body"])
write("models", "transaction", transaction)
write("models", "transaction_notpay", notpay)
write("models", "query_response", vectors["response_query"]["body"])
write("models", "refund_event", refund_event)
write("models", "api_error", api_error)
write("models", "prepay_request", prepay_request)
write("models", "prepay_response", compact({"prepay_id": "wx26100000123456789012345678900000"}))
write("models", "close_request", vectors["request_close"]["body"])

# -- config_fuzz ----------------------------------------------------------------------

example = (root / "config/paycoord.example.json").read_text()
write("config", "example", example)
write("config", "example_env", example + "\0"
      "PAYCOORD_WECHATPAY__APIV3_KEY=a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb\n"
      "PAYCOORD_SCHEDULE__VERIFY=[\"1s\",\"5s\",\"30s\"]\n"
      "PAYCOORD_WECHATPAY__MCHID=1900000001\n"
      "PAYCOORD_SOURCE_DIR=/src\n"
      "PAYCOORD_WECHATPAY_APIV3_KEY=typo\n")
write("config", "example_set", example + "\0\0"
      "schedule.verify=[\"1s\",\"5s\"]\n"
      "wechatpay.max_clock_skew=\"2m\"\n"
      "business.concurrency=8\n"
      "listen.notify=[::1]:8443\n")
write("config", "env_only", "\0"
      "PAYCOORD_DATA_DIR=/var/lib/paycoord\n"
      "PAYCOORD_WECHATPAY__MCHID=1900000001\n"
      "PAYCOORD_WECHATPAY__APPID=wx8888888888888888\n"
      "PAYCOORD_WECHATPAY__APIV3_KEY=a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb\n"
      "PAYCOORD_WECHATPAY__MERCHANT_SERIAL_NO=5157F09EFDC096DE15EBE81A47057A7232F1B8E1\n"
      "PAYCOORD_WECHATPAY__MERCHANT_PRIVATE_KEY_FILE=/etc/paycoord/apiclient_key.pem\n"
      "PAYCOORD_WECHATPAY__PLATFORM_CERTIFICATES_DIR=/etc/paycoord/certs\n"
      "PAYCOORD_WECHATPAY__NOTIFY_URL=https://pay.example.com/v1/wechatpay/notify\n"
      "PAYCOORD_BUSINESS__SECRET=business-secret-0123456789\n"
      "PAYCOORD_ADMIN__TOKEN=admin-token-0123456789abcdef\n")
write("config", "duplicate_key", '{"data_dir":"./a","data_dir":"./b"}')
write("config", "unknown_key", '{"wechatpay":{"apiv3key":"x"}}')

# -- http_fuzz ------------------------------------------------------------------------

def http_seed(wire, split=0, eof=False):
    return bytes([split, 1 if eof else 0]) + wire.encode()


order = compact({"out_trade_no": "A2026112600001", "description": "QQ公仔",
                 "amount": {"total": 100, "currency": "CNY"},
                 "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
                 "expire_at": "2026-11-26T12:00:00+08:00"})
write("http", "create_order", http_seed(
    "POST /v1/orders HTTP/1.1\r\nHost: pay.example.com\r\nContent-Type: application/json\r\n"
    f"Authorization: Bearer 0123456789abcdef\r\nContent-Length: {len(order.encode())}\r\n\r\n"
    + order, split=60))
notify_body = vectors["notification"]["body"]
h = vectors["notification"]["headers"]
write("http", "notify", http_seed(
    "POST /v1/wechatpay/notify HTTP/1.1\r\nHost: pay.example.com\r\n"
    + "".join(f"{k}: {v}\r\n" for k, v in h.items())
    + f"Content-Type: application/json\r\nContent-Length: {len(notify_body.encode())}\r\n\r\n"
    + notify_body, split=128))
write("http", "admin_list_pipelined", http_seed(
    "GET /admin/api/orders?state=PENDING&limit=50&after=A2026%2F11+x&stuck HTTP/1.1\r\n"
    "Host: 127.0.0.1:8081\r\nAuthorization: Bearer admin-token-0123456789\r\n\r\n"
    "GET /admin/api/orders/A2026112600001%2Fx HTTP/1.1\r\nHost: 127.0.0.1:8081\r\n\r\n"
    "HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", split=40, eof=True))
write("http", "admin_action_chunked", http_seed(
    "POST /admin/api/orders/A%E4%B8%AD1/resolve HTTP/1.1\r\nHost: x\r\n"
    "Transfer-Encoding: chunked\r\n\r\n"
    "10\r\n{\"note\":\"refund\"\r\n1\r\n}\r\n0\r\n\r\n", split=90))
write("http", "small_limit_chunked", http_seed(
    "PUT /fuzz/a%20b/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    "20\r\n" + "x" * 32 + "\r\n1\r\ny\r\n0\r\n\r\n"))
write("http", "over_limit_discard", http_seed(
    "PUT /fuzz/a/b HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n" + "z" * 40
    + "GET /static/img/a%2e%2e/b.png HTTP/1.1\r\nHost: x\r\n\r\n", eof=True))
write("http", "http10_method_not_allowed", http_seed(
    "DELETE /v1/orders/A1 HTTP/1.0\r\n\r\n", eof=True))
