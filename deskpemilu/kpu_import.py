"""Import KPU's published results (Sirekap per TPS, D.Hasil per kecamatan) into their own tables.

A source is a folder (Sirekap's tree, or any folder holding `<13-digit TPS code>.json` files) or a
base URL of one contest (`.../pemilu/hhcw/ppwp`), fetched TPS by TPS for the roster's frame. A bad
document is reported with its path or URL and the reason, and the import goes on; a TPS is
written whole or not at all (shared.kpu.repository.store_tps).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from shared.form import Contest
from shared.kpu import recap
from shared.kpu.repository import StoreCounts, store_recap, store_tps
from shared.kpu.sirekap import (
    CandidateMap,
    KpuTps,
    SirekapError,
    check_mapping_against,
    parse_candidate_map,
    parse_tps_document,
    tps_code_from_name,
    tps_document_path,
)
from shared.roster import ElectionRoster

if TYPE_CHECKING:
    from shared.kpu.repository import Conn

Progress = Callable[[int], None]


class ImportSetupError(Exception):
    """The import cannot start (unknown election or contest, mapping that does not fit)."""


@dataclass(frozen=True, slots=True)
class BadFile:
    """A document that was not imported, where it came from and why."""

    origin: str
    code: str
    reason: str


@dataclass
class ImportReport:
    """What an import did."""

    documents: int = 0  # TPS documents read and stored or found unchanged
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    not_published: int = 0  # URL mode: KPU answered 404 for a TPS of the frame
    bad: list[BadFile] = field(default_factory=list)

    def add(self, counts: StoreCounts) -> None:
        """Add one stored batch's counts."""
        self.new += counts.new
        self.changed += counts.changed
        self.unchanged += counts.unchanged

    def __str__(self) -> str:
        return (
            f"{self.documents} TPS documents: {self.new} new, {self.changed} changed, "
            f"{self.unchanged} unchanged; {self.not_published} not published; "
            f"{len(self.bad)} bad"
        )


def roster_lines(roster: ElectionRoster, contest: Contest) -> set[str]:
    """The vote lines of a contest in the roster: c<n> per candidate, p<n> per party."""
    info = roster.contests.get(contest)
    if info is None:
        raise ImportSetupError(
            f"contest {contest} is not in election {roster.election_id}'s roster"
        )
    if contest.is_party_list:
        return {f"p{n}" for n in info.parties}
    return {f"c{n}" for n in info.candidates}


def check_mapping(mapping: CandidateMap, roster: ElectionRoster, contest: Contest) -> None:
    """Refuse a mapping naming lines the roster's contest does not have."""
    extra = check_mapping_against(mapping, dict.fromkeys(roster_lines(roster, contest)))
    if extra:
        raise ImportSetupError(
            f"the mapping names lines {', '.join(extra)} that {contest} does not have"
        )


def is_url(source: str) -> bool:
    """True when the source is an http(s) base URL rather than a folder."""
    return source.startswith(("http://", "https://"))


async def read_candidate_map(
    source: str, contest: Contest, client: httpx.AsyncClient
) -> CandidateMap:
    """KPU's candidate list JSON or a mapping file (.csv or .json), from a path or a URL."""
    if is_url(source):
        response = await client.get(source)
        response.raise_for_status()
        data = response.content
    else:
        data = await asyncio.to_thread(Path(source).read_bytes)
    return parse_candidate_map(data, contest, csv_text=source.lower().endswith(".csv"))


def folder_documents(folder: Path) -> list[tuple[str, Path]]:
    """(TPS code, path) of every `<13 digits>.json` below folder, in path order."""
    found = []
    for path in sorted(folder.rglob("*.json")):
        code = tps_code_from_name(path.name)
        if code is not None:
            found.append((code, path))
    return found


def _parse(
    data: bytes, code: str, origin: str, mapping: CandidateMap, report: ImportReport
) -> KpuTps | None:
    try:
        return parse_tps_document(data, code, mapping)
    except SirekapError as exc:
        report.bad.append(BadFile(origin, exc.code, f"{exc.pesan} / {exc.message}"))
        return None


async def _store(
    conn: Conn,
    election: str,
    contest: Contest,
    items: Sequence[tuple[KpuTps, str]],
    report: ImportReport,
) -> None:
    if items:
        report.add(await store_tps(conn, election=election, contest=contest.value, items=items))
        report.documents += len(items)


async def import_folder(
    conn: Conn,
    *,
    election: str,
    contest: Contest,
    folder: Path,
    mapping: CandidateMap,
    batch_size: int = 500,
    area: str | None = None,
    on_start: Callable[[int], None] | None = None,
    on_progress: Progress | None = None,
) -> ImportReport:
    """Import every TPS document below a folder (only those under area, when given)."""
    report = ImportReport()
    documents = [
        (code, path)
        for code, path in folder_documents(folder)
        if not area or code.startswith(area + ".")
    ]
    if on_start:
        on_start(len(documents))
    for start in range(0, len(documents), batch_size):
        chunk = documents[start : start + batch_size]
        parsed: list[tuple[KpuTps, str]] = []
        for code, path in chunk:
            try:
                data = path.read_bytes()
            except OSError as exc:
                report.bad.append(BadFile(str(path), "KPU_UNREADABLE_FILE", str(exc)))
                continue
            doc = _parse(data, code, str(path), mapping, report)
            if doc is not None:
                parsed.append((doc, str(path)))
        await _store(conn, election, contest, parsed, report)
        if on_progress:
            on_progress(len(chunk))
    return report


async def _fetch(
    client: httpx.AsyncClient, url: str, limit: asyncio.Semaphore, attempts: int = 3
) -> httpx.Response | str:
    """The response, or a reason when every attempt failed to reach KPU's server."""
    reason = ""
    for attempt in range(attempts):
        async with limit:
            try:
                response = await client.get(url)
            except httpx.TransportError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 500:
                    return response
                reason = f"HTTP {response.status_code}"
        await asyncio.sleep(0.2 * 2**attempt)
    return reason


async def import_url(
    conn: Conn,
    *,
    election: str,
    contest: Contest,
    base_url: str,
    mapping: CandidateMap,
    frame: Sequence[str],
    client: httpx.AsyncClient,
    batch_size: int = 500,
    concurrency: int = 16,
    on_start: Callable[[int], None] | None = None,
    on_progress: Progress | None = None,
) -> ImportReport:
    """Fetch `<base>/<prov>/<kab>/<kec>/<desa>/<tps>.json` for every TPS of the frame."""
    report = ImportReport()
    base = base_url.rstrip("/")
    limit = asyncio.Semaphore(concurrency)
    if on_start:
        on_start(len(frame))
    for start in range(0, len(frame), batch_size):
        chunk = frame[start : start + batch_size]
        urls = [f"{base}/{tps_document_path(code)}" for code in chunk]
        answers = await asyncio.gather(*(_fetch(client, url, limit) for url in urls))
        parsed: list[tuple[KpuTps, str]] = []
        for code, url, answer in zip(chunk, urls, answers, strict=True):
            if isinstance(answer, str):
                report.bad.append(BadFile(url, "KPU_UNREACHABLE", answer))
            elif answer.status_code == 404:
                report.not_published += 1
            elif answer.status_code != 200:
                report.bad.append(BadFile(url, "KPU_HTTP_ERROR", f"HTTP {answer.status_code}"))
            else:
                doc = _parse(answer.content, code, url, mapping, report)
                if doc is not None:
                    parsed.append((doc, url))
        await _store(conn, election, contest, parsed, report)
        if on_progress:
            on_progress(len(chunk))
    return report


@dataclass
class RecapReport:
    """What a D.Hasil import did."""

    rows: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    bad: list[BadFile] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.rows} desa rows: {self.new} new, {self.changed} changed, "
            f"{self.unchanged} unchanged; {len(self.bad)} bad"
        )


async def import_recaps(
    conn: Conn,
    *,
    election: str,
    contest: Contest,
    files: Sequence[Path],
    lines: set[str],
    desa: set[str],
) -> RecapReport:
    """Import D.Hasil files (.csv or .xlsx); a bad row is reported, the file's other rows kept."""
    report = RecapReport()
    for path in files:
        try:
            data = path.read_bytes()
            xlsx = path.suffix.lower() == ".xlsx"
            table = recap.read_xlsx(data) if xlsx else recap.read_csv(data)
        except (OSError, UnicodeDecodeError, ValueError, KeyError) as exc:
            report.bad.append(BadFile(str(path), "KPU_RECAP_UNREADABLE", str(exc)))
            continue
        for problem in table.problems:
            report.bad.append(BadFile(f"{path}:{problem.row}", problem.code,
                                      f"{problem.pesan} / {problem.message}"))  # fmt: skip
        good = []
        for row in table.rows:
            unknown = sorted(set(row.votes) - lines)
            if row.area_code not in desa:
                report.bad.append(BadFile(f"{path}:{row.area_code}", "KPU_RECAP_UNKNOWN_DESA",
                    "desa tidak ada di roster / desa not in the roster"))  # fmt: skip
            elif unknown:
                report.bad.append(BadFile(f"{path}:{row.area_code}", "KPU_RECAP_UNKNOWN_LINE",
                    f"baris {', '.join(unknown)} tidak ada / lines {', '.join(unknown)} "
                    f"not in {contest}"))  # fmt: skip
            else:
                good.append(row)
        counts = await store_recap(
            conn, election=election, contest=contest.value, rows=good, origin=str(path)
        )
        report.rows += len(good)
        report.new += counts.new
        report.changed += counts.changed
        report.unchanged += counts.unchanged
    return report
