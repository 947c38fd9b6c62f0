"""The form rules of rules.py as data, for clients that check a form while it is typed.

The operator app (services/intake/static/app/) must show the validator's own arithmetic checks
before a form is sent, offline, without carrying a copy of the rules. It receives, per contest,
the list that `checks_for` builds here: one entry per check the validator makes on a form
whose election, TPS and contest are in the roster and which has a line for every roster
candidate or party (what the app always sends). Codes, severities and message templates come
from `rules.RULES`; field paths and labels from the same tables and walkers the rules use.
tests/unit/test_rule_relations.py holds `evaluate` to `rules.check_form` on random forms, so a
rule changed in rules.py and not here fails there.

A check is a JSON object:

    {"code", "field",
     "when": <condition> | null,   # the check applies only when this holds
     "holds": <condition>,         # a violation when it applies and this does not hold
     "values": {name: <expr>}}     # the fields of the message templates of RULES[code]

An <expr> is an integer, {"f": path} (a number on the form; 0 when absent), {"c": name} (a
context value: dpt, dpt_l, dpt_p, reserve of the TPS; cap, reserve_pct of the election),
{"t": text}, {"sum": [expr, ...]}, {"sub": [a, b]}, {"mul": [k, expr]}, {"abs": expr},
{"max": [expr, ...]}, {"argmax": [[label, expr], ...]} (the label of the first largest) or
{"pct": [a, b]} (a * 100 / b as text with one decimal). A <condition> is
{"op": "eq"|"ne"|"le"|"ge", "a": expr, "b": expr}, {"present": path}, {"absent": path},
{"all": [condition, ...]} or {"any": [condition, ...]}. Paths are the violation field paths:
`pemilih.dpt.l`, `suara_calon.2`, `suara_partai.<party no>.suara_calon.<no>`.
"""

from __future__ import annotations

from typing import Any

from services.validator.rules import (
    _COLUMNS,
    _NOUNS,
    ANOMALY_MIN_VOTES,
    BOX_MAX,
    HIGH_TURNOUT_PCT,
    RULES,
    _boxes,
    _lp_rows,
    reserve_ballots,
)
from shared.form import LP, CHasil, DataPemilih, SuaraPartai, SuratSuara
from shared.roster import ContestInfo, ElectionRoster, TpsInfo

Check = dict[str, Any]
Expr = Any

# Rules a form built from the roster cannot break (the app offers only roster lines, always
# sends every one, and knows the operator's TPS and scope): not part of the checks.
ROSTER_ONLY = frozenset(
    {
        "ELECTION_UNKNOWN",
        "ROLE_CANNOT_SUBMIT",
        "SCOPE_OUTSIDE",
        "TPS_UNKNOWN",
        "CONTEST_UNKNOWN",
        "CANDIDATE_UNKNOWN",
        "PARTY_UNKNOWN",
        "PARTY_CANDIDATE_UNKNOWN",
        "CANDIDATE_MISSING",
        "PARTY_MISSING",
    }
)


def _f(path: str) -> Expr:
    return {"f": path}


def _c(name: str) -> Expr:
    return {"c": name}


def _t(text: str) -> Expr:
    return {"t": text}


def _sum(*terms: Expr) -> Expr:
    return {"sum": list(terms)}


def _op(op: str, a: Expr, b: Expr) -> dict[str, Any]:
    return {"op": op, "a": a, "b": b}


def _present(path: str) -> dict[str, Any]:
    return {"present": path}


def _absent(path: str) -> dict[str, Any]:
    return {"absent": path}


def _all(*conditions: dict[str, Any]) -> dict[str, Any]:
    return {"all": list(conditions)}


def _check(
    code: str,
    field: str,
    holds: dict[str, Any],
    values: dict[str, Expr],
    when: dict[str, Any] | None = None,
) -> Check:
    assert code in RULES, code
    return {
        "code": code,
        "field": field,
        "when": when,
        "holds": holds,
        "values": values,
    }


def _full_form(contest: ContestInfo) -> CHasil:
    """A form of this contest with every section and every roster line (zeros): the layout."""
    zero = LP(l=0, p=0, jumlah=0)
    party_list = contest.contest.is_party_list
    return CHasil(
        election="layout",
        contest=contest.contest,
        tps="00.00.00.0000.000",
        pemilih=DataPemilih(
            dpt=zero, pengguna_dpt=zero, pengguna_dptb=zero, pengguna_dpk=zero, pengguna_total=zero
        ),
        surat_suara=SuratSuara(diterima=0, digunakan=0, rusak=0, sisa=0),
        disabilitas=zero,
        suara_calon=None if party_list else dict.fromkeys(sorted(contest.candidates), 0),
        suara_partai=[
            SuaraPartai(
                nomor_partai=no,
                suara_partai=0,
                suara_calon=dict.fromkeys(sorted(cands), 0),
                jumlah=0,
            )
            for no, cands in sorted(contest.parties.items())
        ]
        if party_list
        else None,
        suara_sah=0,
        suara_tidak_sah=0,
        jumlah_suara=0,
    )


def boxes_for(contest: ContestInfo) -> list[dict[str, str]]:
    """Every number box of this contest's form: field path and its labels, in form order."""
    return [
        {"field": path, "label_id": label_id, "label_en": label_en}
        for path, label_id, label_en, _ in _boxes(_full_form(contest))
    ]


def checks_for(contest: ContestInfo) -> list[Check]:
    """The validator's checks of this contest's form as data (see the module docstring)."""
    form = _full_form(contest)
    noun_id, noun_en = _NOUNS[contest.contest]
    sah, tidak_sah = _f("suara_sah"), _f("suara_tidak_sah")
    cast = _sum(sah, tidak_sah)
    dpt, reserve = _c("dpt"), _c("reserve")
    if form.suara_calon is not None:
        lines = {no: f"suara_calon.{no}" for no in form.suara_calon}
    else:
        lines = {
            p.nomor_partai: f"suara_partai.{p.nomor_partai}.jumlah" for p in form.suara_partai or ()
        }
    valid_total = _sum(*(_f(path) for path in lines.values()))
    b = {name: f"pemilih.{name}" for name in ("pengguna_dpt", "pengguna_dptb", "pengguna_dpk")}
    b4 = "pemilih.pengguna_total"
    out: list[Check] = [
        _check(
            "TPS_CAP",
            "tps",
            _op("le", dpt, _c("cap")),
            {"dpt": dpt, "cap": _c("cap")},
        )
    ]
    for path, label_id, label_en, _ in _boxes(form):
        out.append(
            _check(
                "BOX_RANGE",
                path,
                _op("le", _f(path), BOX_MAX),
                {"label_id": _t(label_id), "label_en": _t(label_en), "value": _f(path)},
                when=_present(path),
            )
        )
    for path, row_id, row_en, _row in _lp_rows(form):
        l_, p_, j_ = _f(f"{path}.l"), _f(f"{path}.p"), _f(f"{path}.jumlah")
        out.append(
            _check(
                "LP_SUM",
                f"{path}.jumlah",
                _op("eq", _sum(l_, p_), j_),
                {
                    "row_id": _t(row_id),
                    "row_en": _t(row_en),
                    "l": l_,
                    "p": p_,
                    "total": _sum(l_, p_),
                    "jumlah": j_,
                },
                when=_present(path),
            )
        )
    for col, col_label in _COLUMNS:
        parts = [
            _f(f"{b[name]}.{col}") for name in ("pengguna_dpt", "pengguna_dptb", "pengguna_dpk")
        ]
        total4 = _f(f"{b4}.{col}")
        out.append(
            _check(
                "PEMILIH_TOTAL",
                f"{b4}.{col}",
                _op("eq", _sum(*parts), total4),
                {
                    "col": _t(col_label),
                    "b1": parts[0],
                    "b2": parts[1],
                    "b3": parts[2],
                    "b4": total4,
                    "total": _sum(*parts),
                },
                when=_present("pemilih"),
            )
        )
    out.append(
        _check(
            "SAH_SUM",
            "suara_sah",
            _op("eq", sah, valid_total),
            {"sah": sah, "total": valid_total, "noun_id": _t(noun_id), "noun_en": _t(noun_en)},
        )
    )
    for party in form.suara_partai or ():
        no = party.nomor_partai
        a1 = _f(f"suara_partai.{no}.suara_partai")
        a2 = _sum(*(_f(f"suara_partai.{no}.suara_calon.{c}") for c in party.suara_calon))
        jumlah = _f(f"suara_partai.{no}.jumlah")
        out.append(
            _check(
                "PARTY_SUM",
                f"suara_partai.{no}.jumlah",
                _op("eq", _sum(a1, a2), jumlah),
                {"party": no, "a1": a1, "a2": a2, "total": _sum(a1, a2), "jumlah": jumlah},
                when=_present(f"suara_partai.{no}"),
            )
        )
    out.append(
        _check(
            "JUMLAH_SUARA",
            "jumlah_suara",
            _op("eq", _f("jumlah_suara"), cast),
            {"jumlah": _f("jumlah_suara"), "sah": sah, "tidak_sah": tidak_sah, "total": cast},
            when=_present("jumlah_suara"),
        )
    )
    voted = _f(f"{b4}.jumlah")
    out.append(
        _check(
            "PENGGUNA_VS_SUARA",
            f"{b4}.jumlah",
            _op("eq", voted, cast),
            {"sah": sah, "tidak_sah": tidak_sah, "total": cast, "b4": voted},
            when=_present("pemilih"),
        )
    )
    digunakan, rusak, sisa, diterima = (
        _f(f"surat_suara.{name}") for name in ("digunakan", "rusak", "sisa", "diterima")
    )
    out.append(
        _check(
            "SURAT_DIGUNAKAN",
            "surat_suara.digunakan",
            _op("eq", digunakan, cast),
            {"digunakan": digunakan, "sah": sah, "tidak_sah": tidak_sah, "total": cast},
            when=_present("surat_suara"),
        )
    )
    out.append(
        _check(
            "SURAT_BALANCE",
            "surat_suara.diterima",
            _op("eq", _sum(digunakan, rusak, sisa), diterima),
            {
                "digunakan": digunakan,
                "rusak": rusak,
                "sisa": sisa,
                "total": _sum(digunakan, rusak, sisa),
                "diterima": diterima,
            },
            when=_present("surat_suara"),
        )
    )
    b1 = _f("pemilih.pengguna_dpt.jumlah")
    out.append(
        _check(
            "PENGGUNA_DPT_ABOVE_DPT",
            "pemilih.pengguna_dpt.jumlah",
            _op("le", b1, dpt),
            {"b1": b1, "dpt": dpt},
            when=_present("pemilih"),
        )
    )
    limit = _sum(dpt, reserve)
    out.append(
        _check(
            "VOTES_ABOVE_DPT",
            "suara_sah",
            _op("le", cast, limit),
            {"total": cast, "dpt": dpt, "reserve": reserve, "limit": limit},
            when=_absent("pemilih"),
        )
    )
    out.append(
        _check(
            "SURAT_RESERVE",
            "surat_suara.diterima",
            _op("le", {"abs": {"sub": [diterima, limit]}}, reserve),
            {
                "diterima": diterima,
                "dpt": dpt,
                "pct": _c("reserve_pct"),
                "reserve": reserve,
                "expected": limit,
            },
            when=_present("surat_suara"),
        )
    )
    row = {col: _f(f"pemilih.dpt.{col}") for col in ("l", "p", "jumlah")}
    out.append(
        _check(
            "DPT_MISMATCH",
            "pemilih.dpt",
            _all(
                _op("eq", row["l"], _c("dpt_l")),
                _op("eq", row["p"], _c("dpt_p")),
                _op("eq", row["jumlah"], dpt),
            ),
            {
                "fl": row["l"],
                "fp": row["p"],
                "fj": row["jumlah"],
                "rl": _c("dpt_l"),
                "rp": _c("dpt_p"),
                "rj": dpt,
            },
            when=_present("pemilih"),
        )
    )
    disabled = _f("disabilitas.jumlah")
    for with_pemilih, voters in ((True, voted), (False, cast)):
        out.append(
            _check(
                "DISABILITAS_ABOVE_PENGGUNA",
                "disabilitas.jumlah",
                _op("le", disabled, voters),
                {"disabilitas": disabled, "voters": voters},
                when=_all(
                    _present("disabilitas"),
                    _present("pemilih") if with_pemilih else _absent("pemilih"),
                ),
            )
        )
    out.append(
        _check(
            "ANOMALY_HIGH_TURNOUT",
            "suara_sah",
            _op("le", {"mul": [100, cast]}, {"mul": [HIGH_TURNOUT_PCT, dpt]}),
            {"total": cast, "dpt": dpt, "pct": {"pct": [cast, dpt]}},
            # Not when VOTES_ABOVE_DPT already rejects the form.
            when=_all(
                _op("ge", dpt, ANOMALY_MIN_VOTES),
                {"any": [_present("pemilih"), _op("le", cast, limit)]},
            ),
        )
    )
    options = len(contest.candidates) if form.suara_calon is not None else len(contest.parties)
    if options >= 2:  # a single paslon (against the empty column) wins everything by design
        line_values = [_f(path) for path in lines.values()]
        out.append(
            _check(
                "ANOMALY_UNANIMOUS",
                "suara_sah",
                _op("ne", {"max": line_values}, valid_total),
                {
                    "total": valid_total,
                    "no": {"argmax": [[no, _f(path)] for no, path in lines.items()]},
                    "noun_id": _t(noun_id),
                    "noun_en": _t(noun_en),
                },
                when=_op("ge", valid_total, ANOMALY_MIN_VOTES),
            )
        )
    return out


def context_of(roster: ElectionRoster, tps: TpsInfo) -> dict[str, int | str]:
    """The context values the checks of a TPS of this election read."""
    return {
        "dpt": tps.dpt,
        "dpt_l": tps.dpt_l,
        "dpt_p": tps.dpt_p,
        "reserve": reserve_ballots(tps.dpt, roster.ballot_reserve_pct),
        "cap": roster.max_dpt_per_tps,
        "reserve_pct": f"{roster.ballot_reserve_pct:g}",  # as SURAT_RESERVE formats it
    }


# --- the reference evaluator (the app's checks.js does the same in JavaScript) ---------------


def _lookup(form: dict[str, Any], path: str) -> Any:
    node: Any = form
    parts = path.split(".")
    i = 0
    while i < len(parts):
        part = parts[i]
        if node is None:
            return None
        if isinstance(node, list):  # suara_partai: the next part is the party number
            node = next((p for p in node if str(p.get("nomor_partai")) == part), None)
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return None
        i += 1
    return node


def _value(expr: Expr, form: dict[str, Any], ctx: dict[str, int | str]) -> Any:
    if isinstance(expr, int):
        return expr
    if "f" in expr:
        found = _lookup(form, expr["f"])
        return found if isinstance(found, int) else 0
    if "c" in expr:
        return ctx[expr["c"]]
    if "t" in expr:
        return expr["t"]
    if "sum" in expr:
        return sum(_value(e, form, ctx) for e in expr["sum"])
    if "sub" in expr:
        a, b = expr["sub"]
        return _value(a, form, ctx) - _value(b, form, ctx)
    if "mul" in expr:
        k, e = expr["mul"]
        return k * _value(e, form, ctx)
    if "abs" in expr:
        return abs(_value(expr["abs"], form, ctx))
    if "max" in expr:
        return max(_value(e, form, ctx) for e in expr["max"])
    if "argmax" in expr:
        pairs = [(label, _value(e, form, ctx)) for label, e in expr["argmax"]]
        top = max(v for _, v in pairs)
        return next(label for label, v in pairs if v == top)
    if "pct" in expr:
        a, b = expr["pct"]
        return f"{_value(a, form, ctx) * 100 / _value(b, form, ctx):.1f}"
    raise ValueError(f"unknown expression {expr!r}")


def _holds(cond: dict[str, Any], form: dict[str, Any], ctx: dict[str, int | str]) -> bool:
    if "present" in cond:
        return _lookup(form, cond["present"]) is not None
    if "absent" in cond:
        return _lookup(form, cond["absent"]) is None
    if "all" in cond:
        return all(_holds(c, form, ctx) for c in cond["all"])
    if "any" in cond:
        return any(_holds(c, form, ctx) for c in cond["any"])
    a, b = _value(cond["a"], form, ctx), _value(cond["b"], form, ctx)
    match cond["op"]:
        case "eq":
            return bool(a == b)
        case "ne":
            return bool(a != b)
        case "le":
            return bool(a <= b)
        case "ge":
            return bool(a >= b)
    raise ValueError(f"unknown condition {cond!r}")


def evaluate(
    checks: list[Check], form: dict[str, Any], ctx: dict[str, int | str]
) -> list[dict[str, str]]:
    """The violations of a form (as JSON: CHasil.model_dump(mode='json')) under these checks."""
    out = []
    for check in checks:
        when = check["when"]
        if when is not None and not _holds(when, form, ctx):
            continue
        if _holds(check["holds"], form, ctx):
            continue
        values = {name: _value(e, form, ctx) for name, e in check["values"].items()}
        spec = RULES[check["code"]]
        out.append(
            {
                "code": check["code"],
                "severity": spec.severity.value,
                "field": check["field"],
                "pesan": spec.pesan.format(**values),
                "message": spec.message.format(**values),
            }
        )
    return out
