"""Hostile values, form bodies, JSON bodies and websocket frames, as Hypothesis strategies.

Lone surrogates cannot be encoded in UTF-8 (neither a browser nor the test client can send one),
so text leaves out category Cs; every other edge case is in: NUL, right-to-left overrides,
zero-width characters, emoji sequences, combining marks, 100,000-character strings, numbers out of
every range, impossible dates, ids of the other organisation's objects."""

import json

from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import strategies as st

HUGE = 100_000

EDGE_TEXT = [
    "",
    " ",
    "\t\n",
    "\x00",
    "a\x00b",
    "\u202eevil\u202c.exe",
    "\u200b",
    "\u200d\u200d",
    "\ufeff",
    "\u2028\u2029",
    "\x7f\x1b[31m",
    "🧨",
    "👩\u200d👩\u200d👧\u200d👦",
    "🏳️\u200d🌈",
    "e" + "\u0301" * 60,
    "Z\u0337\u0322\u034ea\u0335l\u0336g\u0337o\u0338",
    "İıßﬀ",
    "𝕏𝔸",
    "ﷺ",
    "<script>alert(1)</script>",
    "\"'><img src=x onerror=alert(1)>",
    "%(name)s {0} %s %d",
    "' OR 1=1 --",
    "../../../etc/passwd",
    "a\r\nBcc: victim@example.org",
    "null",
    "None",
    "true",
    "[]",
    "{}",
    "=cmd|' /C calc'!A0",
]
NUMBERS = [
    "1e309",
    "-1e309",
    "-0",
    "0",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "1.5",
    "-1",
    "2147483647",
    "2147483648",
    "-2147483649",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "9" * 30,
    "9" * 5000,
    "0x10",
    "1_000",
    "²",
    "①",
    "٣",
    " 7 ",
    "+5",
    "1,5",
    "12.345",
    "0.001",
    "1e3",
]
DATES = [
    "2026-02-30",
    "2026-13-01",
    "2026-00-10",
    "0000-00-00",
    "0001-01-01",
    "9999-12-31",
    "10000-01-01",
    "2025-02-29",
    "31/12/2026",
    "2026-1-1",
    "2026-01-01T25:61",
    "-2026-01-01",
    "1970-01-01",
]
EMAILS = [
    "@",
    "a@b",
    "a@" + "b" * 300 + ".com",
    "ü@exämple.org",
    "a@localhost",
    "\u202e@example.org",
    "a+b@example.org",
    '"quoted"@example.org',
    "fuzz@example.org",
]
SEEN_NAMES = ["csrfmiddlewaretoken", "next", "page", "id", "pk", "action", "confirm", "format", "submit", "_method"]


def text(max_size=40):
    return st.text(st.characters(exclude_categories=("Cs",)), max_size=max_size)


def huge():
    return st.sampled_from(["x", "é", "🧨", "\u200b", "<", "9"]).map(lambda character: character * HUGE)


def hostile(real=(), foreign=()):
    """One hostile value as a string, as a form field carries it."""
    choices = [
        st.sampled_from(EDGE_TEXT),
        st.sampled_from(NUMBERS),
        st.sampled_from(DATES),
        st.sampled_from(EMAILS),
        text(),
        huge(),
        st.integers().map(str),
    ]
    if real:
        choices.append(st.sampled_from(sorted(real)))
    if foreign:
        choices.append(st.sampled_from(sorted(foreign)))
    return st.one_of(choices)


def plausible(field):
    """A value the field's own widget could send."""
    if field.options:
        return st.sampled_from(field.options)
    kind = field.kind
    if kind in ("checkbox", "radio"):
        return st.just(field.value or "on")
    if kind == "number":
        return st.integers(-3, 120).map(str)
    if kind == "date":
        return st.dates().map(lambda day: day.isoformat())
    if kind == "email":
        return st.sampled_from(["fuzz@example.org", "fuzz.two@example.org"])
    if kind == "hidden" and field.value:
        return st.just(field.value)
    return st.sampled_from(["Fuzz", "fuzz text", "fuzz-2", "42", field.value or "x"])


# Sweeps: the classic attacks, each sent on purpose to every route (as explicit examples) rather
# than left to chance. A form gets each value in all its free-text fields at once (choices keep a
# valid one); a JSON endpoint or a websocket frame type gets each value in one key at a time (the
# others valid), as such views read their keys one after the other and stop at the first bad one.
FORM_SWEEP = ["a\x00b", "²", "\u202e" + "x" * HUGE, "99999999999999999999", "-1", "NaN"]
JSON_SWEEP = ["a\x00b", float("inf"), "²", 10**30, [], None, "\u202e" + "x" * HUGE]
FREE_TEXT = {"text", "textarea", "email", "password", "search", "number", "date", "url", "tel", "hidden", "time"}


def sample(field):
    """One value the field's own widget could send, always the same."""
    if field.kind == "file":
        return SimpleUploadedFile("fuzz.txt", b"fuzz")
    if field.options:
        return next((option for option in field.options if option), field.options[0])
    return {"checkbox": field.value or "on", "radio": field.value or "on", "number": "1", "email": "fuzz@example.org",
            "date": "2026-01-15"}.get(field.kind, field.value or "Fuzz")  # fmt: skip


def form_sweep(fields):
    """One body per value of FORM_SWEEP in every free-text field, the choices set to a valid one;
    and the NUL once more with the choices as a browser sends them untouched (first option, boxes
    unticked), as another choice may let it further."""
    free = [name for name, field in fields.items() if field.kind in FREE_TEXT and not field.options]
    if not free:
        return []
    bodies = [
        {name: value if name in free else sample(field) for name, field in fields.items()} for value in FORM_SWEEP
    ]
    untouched = {
        name: FORM_SWEEP[0] if name in free else field.options[0] if field.options else sample(field)
        for name, field in fields.items()
        if field.kind != "checkbox"
    }
    return [*bodies, untouched]


def json_sweep(keys, plausible_values):
    valid = {key: (plausible_values.get(key) or ["x"])[0] for key in keys}
    return [{**valid, key: value} for key in keys for value in JSON_SWEEP]


def upload():
    names = st.sampled_from(
        ["doc.txt", "../../evil.txt", "\u202etxt.exe", "a" * 300 + ".csv", ".csv", "x.xlsx", "🧨.png"]
    )
    contents = st.one_of(
        st.binary(max_size=300),
        st.sampled_from(
            [
                b"email,full_name\nfuzz@example.org,Fuzz\n",
                b"email\n\x00\xff\xfe",
                b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,
                b"PK\x03\x04" + b"\x00" * 40,
                "\ufeffemail;chapter\n=1+1;lille\n".encode(),
            ]
        ),
    )
    return st.builds(lambda name, content: SimpleUploadedFile(name, content), names, contents)


MISSING = object()


def form_bodies(fields, real=(), foreign=()):
    """A form body from the form's real fields: every field as its widget could send it but one,
    which is hostile, repeated or missing (so that the hostile value reaches as deep as it can); or
    every field sent right; or any mix. Plus a few fields nobody asked for, or more fields than
    Django accepts."""
    value = hostile(real, foreign)
    sent = {name: upload() if field.kind == "file" else plausible(field) for name, field in fields.items()}
    right = st.fixed_dictionaries(sent)
    if fields:
        wrong = st.one_of(value, st.just(MISSING), st.lists(value, min_size=2, max_size=3))
        one_wrong = st.builds(
            lambda body, name, bad: {key: item for key, item in {**body, name: bad}.items() if item is not MISSING},
            right,
            st.sampled_from(sorted(fields)),
            wrong,
        )
    else:
        one_wrong = right
    mixed = st.fixed_dictionaries({}, optional={name: st.one_of(sent[name], value) for name in fields})
    extra_names = st.one_of(st.sampled_from(SEEN_NAMES), text(20).filter(bool))
    too_many = st.just(1100).map(lambda count: {f"field{number}": "x" for number in range(count)})  # over Django's 1000
    extras = st.one_of(*[st.dictionaries(extra_names, value, max_size=3)] * 6, too_many)
    return st.builds(lambda known, more: {**more, **known}, st.one_of(one_wrong, one_wrong, right, mixed), extras)


def json_leaves(real=(), foreign=()):
    choices = [
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(-(2**70), 2**70),
        st.floats(),
        st.sampled_from([float("inf"), float("-inf"), float("nan"), 1e308, -0.0, 2**63, -(2**63) - 1]),
        hostile(real, foreign),
    ]
    if real:
        choices.append(st.sampled_from(sorted(real)).map(lambda value: int(value) if value.isdigit() else value))
    return st.one_of(choices)


def json_values(real=(), foreign=()):
    return st.recursive(
        json_leaves(real, foreign),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(text(8), children, max_size=4),
        max_leaves=10,
    )


def nested(depth, inner="1"):
    return "[" * depth + inner + "]" * depth


def deep_json():
    """JSON nested deeper than any parser's recursion: arrays, objects, and under a real key."""
    depth = st.sampled_from([999, 1000, 1001, 5000, 100_000])
    return st.one_of(
        depth.map(nested),
        depth.map(lambda n: '{"a":' * n + "1" + "}" * n),
        st.tuples(st.sampled_from(["body", "room", "message", "people", "name", "type"]), depth).map(
            lambda pair: json.dumps({pair[0]: "x"}).replace('"x"', nested(pair[1]))
        ),
    )


def dumps(value):
    return json.dumps(value, allow_nan=True)


def json_objects(keys, plausible_values, real=(), foreign=(), extra_keys=()):
    """Objects with the endpoint's own keys: all of them (mostly with plausible values, sometimes
    of any type) or only some; plus keys nobody asked for."""
    anything = json_values(real, foreign)

    def value(key):
        known = st.sampled_from(plausible_values.get(key) or ["x"])
        return st.one_of(known, known, anything)

    complete = st.fixed_dictionaries({key: value(key) for key in keys})
    partial = st.fixed_dictionaries({}, optional={key: value(key) for key in keys})
    names = st.one_of(st.sampled_from(sorted(extra_keys) or ["x"]), text(10))
    extras = st.dictionaries(names, anything, max_size=2)
    return st.builds(lambda known, more: {**more, **known}, st.one_of(complete, complete, partial), extras)


NOT_JSON = ["", "{", "}", '{"body": }', "[1,]", "NaN", "\x00", "{'body': 'x'}", '{"a":1}{"b":2}', "null", '"x"']
JSON_TYPES = [
    "application/json",
    "application/json; charset=latin-1",
    "text/plain",
    "application/x-www-form-urlencoded",
]


def json_bodies(keys, plausible_values, real=(), foreign=(), extra_keys=()):
    """(body, content type): objects with the endpoint's keys, each missing, plausible or of any
    type, and keys nobody asked for."""
    objects = json_objects(keys, plausible_values, real, foreign, extra_keys)
    return st.tuples(objects.map(dumps).map(str.encode), st.just("application/json"))


def json_garbage(keys, real=(), foreign=()):
    """(body, content type): JSON that is not an object, nested deeper than any parser goes, huge,
    over the upload limit, or not JSON at all, under several content types."""
    texts = st.one_of(
        json_values(real, foreign).map(dumps),
        deep_json(),
        huge().map(lambda string: dumps(dict.fromkeys(keys or ["body"], string))),
        st.just(3_000_000).map(lambda size: dumps({"body": "x" * size})),  # over DATA_UPLOAD_MAX_MEMORY_SIZE
        text(200),
        st.sampled_from(NOT_JSON),
    )
    bodies = st.one_of(texts.map(str.encode), st.binary(max_size=200))
    return st.tuples(bodies, st.sampled_from(JSON_TYPES))


def websocket_frames(frame_type, keys, plausible_values, real=(), foreign=(), extra_keys=()):
    """(text, None) frames of `frame_type` with its keys: each missing, plausible or of any type,
    plus keys nobody asked for."""
    objects = json_objects(keys, plausible_values, real, foreign, extra_keys)
    return objects.map(lambda content: (dumps({**content, "type": frame_type}), None))


def websocket_garbage(keys, plausible_values, real=(), foreign=()):
    """(text, bytes) frames that no handler expects: made-up or mistyped types, JSON that is not
    an object, text that is not JSON, binary frames, frames over any size limit, deep nesting."""
    anything = json_values(real, foreign)
    objects = json_objects(keys, plausible_values, real, foreign)
    made_up = st.one_of(text(50), st.sampled_from(["", "x" * 1000, "__init__", "handlers", "receive"]), anything)
    texts = st.one_of(
        st.builds(lambda content, kind: {**content, "type": kind}, objects, made_up).map(dumps),
        objects.map(dumps),
        anything.map(dumps),
        deep_json(),
        st.sampled_from([20_000, 1_000_000]).map(lambda size: dumps({"type": "ping", "body": "x" * size})),
        text(100),
        st.sampled_from(NOT_JSON),
    )
    return st.one_of(
        texts.map(lambda frame: (frame, None)),
        st.binary(max_size=100).map(lambda frame: (None, frame)),
        texts.map(lambda frame: (None, frame.encode())),
    )
