"""An httpx transport that refuses oversized answers, on the wire and after decompression.

A hostile or broken endpoint can send a 1 MB gzip that inflates to 1 GiB, more than a Flex
Consumption instance holds. httpx would inflate it whole; here the body is inflated as it arrives,
never past ``max_body`` bytes, and never more than ``max_wire`` bytes are read off the connection.
Only gzip and deflate are asked for, and an answer in any other encoding is refused.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator

import httpx

ACCEPT_ENCODING = "gzip, deflate"
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS}


class ResponseTooLargeError(httpx.TransportError):
    """An answer went past the size this client accepts (``what``: on the wire, or inflated)."""


class CappedTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, max_wire: int, max_body: int) -> None:
        self._inner = inner
        self._max_wire = max_wire
        self._max_body = max_body

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.headers["Accept-Encoding"] = ACCEPT_ENCODING
        response = await self._inner.handle_async_request(request)
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in _WBITS and encoding not in ("", "identity"):
            await response.aclose()
            raise ResponseTooLargeError(f"answer in an encoding not asked for ({encoding[:40]!r})", request=request)
        headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _DROPPED]
        stream = _CappedStream(response, _WBITS.get(encoding), self._max_wire, self._max_body, request)
        return httpx.Response(response.status_code, headers=headers, stream=stream, extensions=response.extensions)

    async def aclose(self) -> None:
        await self._inner.aclose()


_DROPPED = frozenset({"content-encoding", "content-length"})
"""The body is handed on inflated, so these no longer describe it."""


class _CappedStream(httpx.AsyncByteStream):
    def __init__(
        self, response: httpx.Response, wbits: int | None, max_wire: int, max_body: int, request: httpx.Request
    ) -> None:
        self._response = response
        self._wbits = wbits
        self._max_wire = max_wire
        self._max_body = max_body
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        inflater = zlib.decompressobj(self._wbits) if self._wbits is not None else None
        wire = body = 0
        async for chunk in self._response.aiter_raw():
            wire += len(chunk)
            if wire > self._max_wire:
                raise self._too_large(f"more than {self._max_wire} bytes on the wire")
            if inflater is None:
                out = chunk
            else:
                try:
                    out = inflater.decompress(chunk, self._max_body - body + 1)
                except zlib.error as exc:
                    raise httpx.DecodingError(f"bad {self._wbits} stream: {exc}", request=self._request) from exc
                if inflater.unconsumed_tail:
                    raise self._too_large(f"inflates past {self._max_body} bytes")
            body += len(out)
            if body > self._max_body:
                raise self._too_large(f"more than {self._max_body} bytes")
            yield out

    def _too_large(self, what: str) -> ResponseTooLargeError:
        return ResponseTooLargeError(f"answer refused: {what}", request=self._request)

    async def aclose(self) -> None:
        await self._response.aclose()
