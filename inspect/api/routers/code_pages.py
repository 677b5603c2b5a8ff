"""The pages behind the QR codes have moved to the page modules: the enterprise code's page
`/e/<token>` is one of the inspector's pages (checkonce.api.pages.inspector), the inspection
code's page `/v/<token>` one of the public pages (checkonce.api.pages.public). This router is
left empty until app.py stops including it."""

from __future__ import annotations

from fastapi import APIRouter

from checkonce.api.deps import PUBLIC

router = APIRouter(include_in_schema=False, dependencies=[PUBLIC])
