"""HTML form bodies (urlencoded and multipart) parsed strictly and with a size bound."""

from __future__ import annotations

from urllib.parse import parse_qs

from chalicelib.errors import InvalidInput

MAX_FORM_BYTES = 64 * 1024
ONE_CLICK = ("List-Unsubscribe", "One-Click")


def parse_form(content_type: str, body: bytes) -> dict[str, list[str]]:
    """Field name → values. Raises `InvalidInput` on oversized or undecodable bodies."""
    if len(body) > MAX_FORM_BYTES:
        raise InvalidInput("body", f"is larger than {MAX_FORM_BYTES} bytes")
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "multipart/form-data":
        return _multipart(content_type, body)
    if media in ("application/x-www-form-urlencoded", ""):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("body", "is not UTF-8") from None
        return parse_qs(text, keep_blank_values=True, max_num_fields=100)
    raise InvalidInput("content-type", f"{media!r} is not a form")


def is_one_click(form: dict[str, list[str]]) -> bool:
    """RFC 8058: the POST body carries exactly `List-Unsubscribe=One-Click`."""
    return form.get(ONE_CLICK[0]) == [ONE_CLICK[1]]


def _multipart(content_type: str, body: bytes) -> dict[str, list[str]]:
    from email.parser import BytesParser  # rare path: kept off the cold start
    from email.policy import HTTP

    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise InvalidInput("body", "is not valid multipart/form-data")
    fields: dict[str, list[str]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        try:
            fields.setdefault(name, []).append(payload.decode("utf-8"))
        except UnicodeDecodeError:
            raise InvalidInput(name, "is not UTF-8") from None
    return fields
