"""HTTP hardening that every response shares: a cap on request bodies, and the security
headers (Content-Security-Policy with a per-request nonce, frame-ancestors, nosniff,
Referrer-Policy).

Both are plain ASGI middleware so they also cover mounted apps (/static, Leaflet) and
answers produced by exception handlers.
"""

from __future__ import annotations

import json
import secrets

from checkonce.tabular import size_text

# Multipart framing around the largest file an upload route accepts.
BODY_OVERHEAD = 1024 * 1024
NONCE_KEY = "csp_nonce"


class BodyLimitMiddleware:
    """Refuse a request whose body exceeds `max_bytes` with a 413 and a Chinese message: by
    its Content-Length before reading, and by counting when the body is chunked."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        seen = {"bytes": 0, "started": False}

        class TooLarge(Exception):
            pass

        async def counting_receive():
            message = await receive()
            if message["type"] == "http.request":
                seen["bytes"] += len(message.get("body", b""))
                if seen["bytes"] > self.max_bytes:
                    raise TooLarge
            return message

        async def tracking_send(message) -> None:
            if message["type"] == "http.response.start":
                seen["started"] = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except TooLarge:
            if not seen["started"]:
                await self._refuse(send)

    async def _refuse(self, send) -> None:
        body = json.dumps(
            {
                "error": {
                    "code": "request_too_large",
                    "message": f"请求内容超过上限 {size_text(self.max_bytes)}，请拆分后分别上传",
                }
            },
            ensure_ascii=False,
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def content_security_policy(nonce: str, *, img_sources: str = "") -> str:
    """The policy of every answer: nothing from another origin, scripts only from this site
    or carrying this response's nonce, no plugins, no framing by other sites, forms post
    only here. Inline styles stay allowed (folium's maps set them on elements)."""
    extra_img = f" {img_sources}" if img_sources else ""
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            "style-src 'self' 'unsafe-inline'",
            f"img-src 'self' data: blob:{extra_img}",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'self'",
        ]
    )


class SecurityHeadersMiddleware:
    """Add the security headers to every HTTP response; the CSP nonce of the request is in
    `scope["state"]["csp_nonce"]` (request.state.csp_nonce) for templates and maps."""

    def __init__(self, app, *, img_sources: str = "") -> None:
        self.app = app
        self.img_sources = img_sources

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})[NONCE_KEY] = nonce
        policy = content_security_policy(nonce, img_sources=self.img_sources)

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                added = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"SAMEORIGIN"),
                    (b"referrer-policy", b"same-origin"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                    # every answer, /docs too (checkonce.api.docs gives its script the nonce)
                    (b"content-security-policy", policy.encode()),
                ]
                message["headers"] = [
                    *message.get("headers", []),
                    *((k, v) for k, v in added if k not in present),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def tile_origin(template: str | None) -> str:
    """The origin of a configured map tile URL template ("" when tiles are local or off)."""
    if not template or not template.startswith(("http://", "https://")):
        return ""
    scheme, rest = template.split("://", 1)
    host = rest.split("/", 1)[0]
    # {s}.tile.example.org: subdomain placeholders become a wildcard.
    if "{" in host:
        host = "*." + host.split(".", 1)[1] if "." in host else host
    return f"{scheme}://{host}"
