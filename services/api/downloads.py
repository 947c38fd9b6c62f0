"""File downloads: the csv|xlsx path parameter, its documented 200 and the attachment answer.

Every export route is one route whose path ends in `.{kind}` (`export.{kind}`, `{contest}.{kind}`);
`download` renders the body (CSV inline, XLSX in a worker thread: openpyxl is CPU work that would
hold up the event loop) and answers it as an attachment with the file's media type.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from fastapi import Path, Response
from starlette.concurrency import run_in_threadpool

from services.api import tables


class FileKind(StrEnum):
    """The file an export answers: its extension in the path."""

    CSV = "csv"
    XLSX = "xlsx"


CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MEDIA_TYPES = {FileKind.CSV: CSV_TYPE, FileKind.XLSX: XLSX_TYPE}

_CSV_CONTENT: dict[str, Any] = {CSV_TYPE: {"schema": {"type": "string"}}}
_XLSX_CONTENT: dict[str, Any] = {XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}}}
# The documented 200 of an export route: both kinds, or CSV only.
FILE_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file, as an attachment: CSV or XLSX by the path's extension",
        "content": {**_CSV_CONTENT, **_XLSX_CONTENT},
    }
}
CSV_DOC: dict[int | str, dict[str, Any]] = {200: {"content": _CSV_CONTENT}}

KindPath = Annotated[FileKind, Path(description="the file: csv or xlsx")]

T = TypeVar("T")


def attachment(body: bytes, filename: str, kind: FileKind) -> Response:
    """A file to download under a name."""
    return Response(
        body,
        media_type=MEDIA_TYPES[kind],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def download(
    kind: FileKind,
    name: str,
    data: T,
    to_csv: Callable[[T], bytes],
    to_xlsx: Callable[[T], bytes],
) -> Response:
    """`name.kind` rendered from data: CSV inline, XLSX off the event loop."""
    if kind == FileKind.CSV:
        body = to_csv(data)
    else:
        body = await run_in_threadpool(to_xlsx, data)
    return attachment(body, f"{name}.{kind.value}", kind)


async def table_download(kind: FileKind, name: str, table: tables.Table) -> Response:
    """A plain table as `name.kind` (services/api/tables.py writes both kinds)."""
    return await download(kind, name, table, tables.to_csv, tables.to_xlsx)
