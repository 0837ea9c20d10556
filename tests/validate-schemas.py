#!/usr/bin/python3
"""validate-schemas.py -- checks the published JSON Schemas (docs/schema/,
draft 2020-12) against what pbrd really reads and writes, so they cannot
drift from the code:

  1. every schema is a valid 2020-12 schema, and its "examples" validate;
  2. every event line of the fixtures (tests/data/**/*.jsonl,
     tests/spec-example/*.jsonl) validates as an event, except
     tests/data/events/invalid.jsonl, whose every line must be rejected
     (but for the cross-field rules a schema cannot express, listed in
     CROSS_FIELD and recognised by the expected message);
  3. every statement of tests/spec-example/*.expected.jsonl validates;
  4. with --replies DIR: every request/reply pair the integration tests
     recorded (tests/daemon_harness.h writes them when PBR_SCHEMA_OUT is
     set) validates: an API reply against its op's reply schema (or
     api/error.json), the request of a successful op against its request
     schema, an ingest reply against ingest/reply.json (or the error), a
     PUB message against publish/TOPIC.json; and every op's success
     reply, the ingest reply, the error reply and both PUB topics must
     have been seen at least once.

Usage: validate-schemas.py [--root DIR] [--replies DIR]
Prints one line per failure and a summary; exit status 1 on any failure.
Uses Debian's python3-jsonschema (4.10 and later).
"""
import argparse
import glob
import json
import os
import sys
import warnings

warnings.simplefilter("ignore", DeprecationWarning)
import jsonschema  # noqa: E402
from jsonschema import Draft202012Validator  # noqa: E402

OPS = ["status", "contracts", "statement", "cohorts", "settle", "reload", "quarantine", "quarantine_purge", "verify", "backup",
       "statements", "explain", "wait"]
# invalid.jsonl messages of rules across fields that JSON Schema cannot state
CROSS_FIELD = [" is before date ", " is after date ", " has more than 4 decimal places"]


class Schemas:
    """Loads docs/schema/**.json and builds validators that resolve $refs
    between the files offline (by their $id)."""

    def __init__(self, root):
        self.dir = os.path.join(root, "docs", "schema")
        self.by_path = {}
        store = {}
        for path in sorted(glob.glob(os.path.join(self.dir, "**", "*.json"), recursive=True)):
            with open(path) as f:
                schema = json.load(f)
            rel = os.path.relpath(path, self.dir)
            self.by_path[rel] = schema
            store[schema["$id"]] = schema
        self.store = store
        self.validators = {}

    def validator(self, rel):
        if rel not in self.validators:
            schema = self.by_path[rel]
            resolver = jsonschema.RefResolver(schema["$id"], schema, store=self.store)
            self.validators[rel] = Draft202012Validator(schema, resolver=resolver,
                                                        format_checker=Draft202012Validator.FORMAT_CHECKER)
        return self.validators[rel]

    def errors(self, rel, instance):
        """The first error message of instance against schema rel, or None."""
        err = jsonschema.exceptions.best_match(self.validator(rel).iter_errors(instance))
        if err is None:
            return None
        where = "/".join(str(p) for p in err.absolute_path)
        return "%s: %s" % (where or "(top)", err.message[:300])


class Checker:
    def __init__(self):
        self.failures = 0
        self.checked = 0

    def fail(self, what, msg):
        self.failures += 1
        print("FAIL %s: %s" % (what, msg))

    def valid(self, schemas, rel, instance, what):
        self.checked += 1
        e = schemas.errors(rel, instance)
        if e:
            self.fail(what, "%s: %s" % (rel, e))
        return e is None


def check_schemas(schemas, c):
    for rel, schema in schemas.by_path.items():
        try:
            Draft202012Validator.check_schema(schema)
        except jsonschema.exceptions.SchemaError as e:
            c.fail(rel, "not a valid 2020-12 schema: %s" % e.message)
            continue
        if schema.get("$schema") != "https://json-schema.org/draft/2020-12/schema":
            c.fail(rel, "$schema is not draft 2020-12")
        for i, ex in enumerate(schema.get("examples", [])):
            c.valid(schemas, rel, ex, "%s example %d" % (rel, i))


def json_lines(path):
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                yield n, line


def check_events(schemas, root, c):
    files = sorted(glob.glob(os.path.join(root, "tests", "data", "**", "*.jsonl"), recursive=True))
    files += sorted(p for p in glob.glob(os.path.join(root, "tests", "spec-example", "*.jsonl"))
                    if not p.endswith(".expected.jsonl"))
    invalid = os.path.join(root, "tests", "data", "events", "invalid.jsonl")
    for path in files:
        rel = os.path.relpath(path, root)
        if os.path.abspath(path) == os.path.abspath(invalid):
            continue
        for n, line in json_lines(path):
            c.valid(schemas, "event.json", json.loads(line), "%s:%d" % (rel, n))
    with open(os.path.join(root, "tests", "data", "events", "invalid.expected")) as f:
        expected = [l.rstrip("\n") for l in f]
    for (n, line), why in zip(json_lines(invalid), expected):
        c.checked += 1
        try:
            ev = json.loads(line)
        except ValueError:
            continue  # not JSON at all: nothing for a schema to say
        if schemas.errors("event.json", ev) is None and not any(k in why for k in CROSS_FIELD):
            c.fail("tests/data/events/invalid.jsonl:%d" % n, "the schema accepts a line pbrd rejects (%s)" % why)


def check_statements(schemas, root, c):
    for path in sorted(glob.glob(os.path.join(root, "tests", "spec-example", "*.expected.jsonl"))):
        for n, line in json_lines(path):
            c.valid(schemas, "statement.json", json.loads(line), "%s:%d" % (os.path.relpath(path, root), n))


def check_replies(schemas, replies, c):
    seen = set()
    files = sorted(glob.glob(os.path.join(replies, "*.json")))
    for path in files:
        name = os.path.basename(path)
        with open(path) as f:
            rec = json.load(f)
        try:
            reply = json.loads(rec["reply"])
        except (ValueError, TypeError):
            c.fail(name, "reply is not JSON: %r" % (rec.get("reply") or "")[:100])
            continue
        if not isinstance(reply, dict):
            c.fail(name, "reply is not an object")
            continue
        if "error" in reply:
            if c.valid(schemas, "api/error.json", reply, name):
                seen.add("error")
            continue
        if rec["kind"] == "publish":
            topic = rec.get("request")
            if topic not in ("statement", "reload"):
                c.fail(name, "unknown PUB topic %r" % topic)
            elif c.valid(schemas, "publish/%s.json" % topic, reply, name):
                seen.add("publish:" + topic)
            continue
        if rec["kind"] == "ingest":
            if c.valid(schemas, "ingest/reply.json", reply, name):
                seen.add("ingest")
            continue
        try:
            req = json.loads(rec["request"]) if rec.get("request") is not None else None
        except ValueError:
            req = None
        op = req.get("op") if isinstance(req, dict) else None
        if op not in OPS or rec.get("frames") != 2:
            c.fail(name, "a successful reply to a request that is not a known op: %r" % (rec.get("request") or "")[:100])
            continue
        ok = c.valid(schemas, "api/%s.request.json" % op, req, name + " (request)")
        ok = c.valid(schemas, "api/%s.reply.json" % op, reply, name + " (%s reply)" % op) and ok
        if ok:
            seen.add(op)
    missing = [k for k in OPS + ["ingest", "error", "publish:statement", "publish:reload"] if k not in seen]
    if files and missing:
        c.fail(replies, "no recorded reply of: %s (the tests must exercise every op)" % ", ".join(missing))
    if not files:
        c.fail(replies, "no recorded replies (was PBR_SCHEMA_OUT set for the tests?)")
    return len(files)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=os.environ.get("PBR_ROOT", "."))
    ap.add_argument("--replies", help="directory of request/reply records (PBR_SCHEMA_OUT)")
    args = ap.parse_args()
    schemas = Schemas(args.root)
    c = Checker()
    check_schemas(schemas, c)
    check_events(schemas, args.root, c)
    check_statements(schemas, args.root, c)
    nrec = check_replies(schemas, args.replies, c) if args.replies else 0
    print("schemas: %d files, %d instances checked (%d recorded replies), %d failure(s)"
          % (len(schemas.by_path), c.checked, nrec, c.failures))
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
