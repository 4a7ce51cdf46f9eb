"""Java `calls` edges of the KG against the compiler's own view: javap over JDK 17's java.base.

    .venv/bin/python benchmarks/call_recall_java.py                       # builds the KG of java.base
    .venv/bin/python benchmarks/call_recall_java.py --kg DIR              # a built KG version folder
    .venv/bin/python benchmarks/call_recall_java.py --save after.json --previous before.json

Ground truth: `javap -v -p -c` over the compiled java.base classes of the installed JDK (its
jmods/java.base.jmod, else `jimage extract` of lib/modules), cached under --work. Every
invoke instruction is a call from the source line its LineNumberTable gives to the method
the JVM would resolve its symbolic reference to (the owner, else its superclasses, else its
interfaces), i.e. the declaring method, as the KG's edges name it. A LambdaMetafactory
invokedynamic whose implementation method is not a lambda body is a method reference
(`Foo::bar`, `Foo::new`) and counts as a call of that method.

Both ends are mapped to KG entities: the caller is the innermost KG method (else type) whose
span holds the line, which is how the KG folds lambda bodies, anonymous classes and field
initialisers; the callee by class, name and parameter types (erased simple names; a KG type
variable matches any reference type; synthetic leading constructor parameters of enums and
inner classes are skipped).

Compiler-made calls are left out of recall: a call whose method name (for constructors: `new
Type`, `this(`, `super(`) is not written on its line (one line before, two after, for
statements split over lines), and calls of synthetic methods (`lambda$..`, `access$..`,
`$values`, bridges). They are counted by what made them: string concatenation (java.base
concatenates through StringBuilder), boxing, for-each, try-with-resources, enum switches,
string switches, assert, implicit super(), null checks, enum values/valueOf.

Precision: of the KG's `calls` edges between methods of java.base whose caller file has
classes, the share that the bytecode has (named at the site or not), per `resolution` too.
Recall: of the named calls, the share the KG has, with every miss put in one category from
the KG's own syntax facts of that line (receiver kind: chained call, a name, unqualified,
...). `--save` writes the figures as JSON; `--previous` prints them side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from bisect import bisect_right
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SRC = REPO / "data_lake" / "corpora" / "jdk17" / "java.base"

# --- the JDK's classes through javap ---------------------------------------------------------


def java_home() -> Path:
    if os.environ.get("JAVA_HOME"):
        return Path(os.environ["JAVA_HOME"])
    javap = shutil.which("javap")
    if javap is None:
        sys.exit("javap not found: apt-get install -y openjdk-17-jdk-headless (or set JAVA_HOME)")
    return Path(javap).resolve().parents[1]


def jdk_version(home: Path) -> str:
    rel = home / "release"
    if rel.is_file():
        m = re.search(r'^JAVA_VERSION="([^"]+)"', rel.read_text(), re.M)
        if m:
            return m.group(1)
    out = subprocess.run([str(home / "bin" / "java"), "-version"], capture_output=True, text=True)
    return out.stderr.split("\n")[0]


def extract_classes(home: Path, jmod: Path, work: Path) -> Path:
    """java.base's .class files under work/classes (once)."""
    dest = work / "classes"
    if (work / "classes.complete").is_file():
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    tmp = work / "extract"
    shutil.rmtree(tmp, ignore_errors=True)
    if jmod.is_file():
        subprocess.run([str(home / "bin" / "jmod"), "extract", "--dir", str(tmp), str(jmod)], check=True)
        shutil.move(str(tmp / "classes"), str(dest))
    else:
        subprocess.run([str(home / "bin" / "jimage"), "extract", "--dir", str(tmp),
                        str(home / "lib" / "modules")], check=True)
        shutil.move(str(tmp / "java.base"), str(dest))
    shutil.rmtree(tmp, ignore_errors=True)
    (work / "classes.complete").touch()
    return dest


def run_javap(home: Path, classes: Path, work: Path, workers: int) -> list[Path]:
    """`javap -v -p -c` over every class, in batches (one JVM each); outputs cached."""
    out_dir = work / "javap"
    done = out_dir / "complete"
    if done.is_file():
        return sorted(out_dir.glob("batch-*.txt"))
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    names = sorted(p.relative_to(classes).as_posix() for p in classes.rglob("*.class")
                   if p.name != "module-info.class")
    batches = [names[i:i + 300] for i in range(0, len(names), 300)]

    def one(i: int) -> Path:
        target = out_dir / f"batch-{i:04d}.txt"
        with open(target, "w") as fh:
            subprocess.run([str(home / "bin" / "javap"), "-v", "-p", "-c", *batches[i]],
                           cwd=classes, stdout=fh, check=True)
        return target

    with ThreadPoolExecutor(workers) as pool:
        paths = list(pool.map(one, range(len(batches))))
    done.touch()
    return paths


class ClassInfo:
    __slots__ = ("name", "source", "flags", "super", "interfaces", "methods", "invokes", "bootstrap")

    def __init__(self, name: str) -> None:
        self.name = name  # binary name, java/util/Map$Entry
        self.source = ""
        self.flags = ""
        self.super = ""
        self.interfaces: list[str] = []
        self.methods: dict[tuple[str, str], str] = {}  # (name, descriptor) -> flags
        # (caller name, caller descriptor, line, opcode, owner, name, descriptor or bootstrap index)
        self.invokes: list[tuple] = []
        self.bootstrap: dict[int, tuple[str, str]] = {}  # index -> (bootstrap method, impl handle)


_GENERIC = re.compile(r"<[^<>]*>")
_INVOKE = re.compile(r"^\s+(\d+): (invoke\w+)\s+#\d+(?:,\s+\d+)?\s+// (?:Method|InterfaceMethod) (.+):(\(.*)$")
_INDY = re.compile(r"^\s+(\d+): invokedynamic\s+#\d+,\s+\d+\s+// InvokeDynamic #(\d+):([\w$<>]+):")
_LINE = re.compile(r"^\s+line (\d+): (\d+)$")
_BSM = re.compile(r"^  (\d+): #\d+ REF_\w+ (\S+?):")
_HANDLE = re.compile(r"^\s+#\d+ (REF_\w+) (\S+)$")


def _strip_generics(s: str) -> str:
    while "<" in s:
        t = _GENERIC.sub("", s)
        if t == s:
            break
        s = t
    return s


def parse_javap(paths: list[Path]) -> dict[str, ClassInfo]:
    classes: dict[str, ClassInfo] = {}
    for path in paths:
        c: ClassInfo | None = None
        in_members = False
        cur: tuple[str, str] | None = None
        pending_decl = ""
        code: list[tuple] = []
        lines: list[tuple[int, int]] = []
        bsm_idx = -1
        in_bsm = False
        header = header_flags = ""

        with open(path) as fh:
            for raw in fh:
                line = raw.rstrip("\n")
                if line.startswith("Classfile "):
                    _flush(c, cur, code, lines)
                    c, cur, code, lines, in_members, in_bsm = None, None, [], [], False, False
                    continue
                if c is None:
                    if line.startswith("  this_class:"):
                        name = line.split("// ")[1].strip()
                        c = classes.setdefault(name, ClassInfo(name))
                        c.flags = header_flags
                        sup, ifaces = _header_supers(header)
                        c.super, c.interfaces = sup, ifaces
                    elif line.startswith("  flags:"):
                        header_flags = line
                    elif line and not line.startswith(" ") and not line.startswith("Classfile"):
                        header = line
                    continue
                if line == "{":
                    in_members = True
                    continue
                if line == "}":
                    _flush(c, cur, code, lines)
                    cur, code, lines = None, [], []
                    in_members = False
                    continue
                if in_members:
                    if line.startswith("  ") and not line.startswith("   ") and line.endswith(";"):
                        _flush(c, cur, code, lines)
                        cur, code, lines = None, [], []
                        pending_decl = line
                        continue
                    if line.startswith("    descriptor: ") and pending_decl:
                        desc = line[len("    descriptor: "):]
                        if desc.startswith("("):
                            cur = (_member_name(pending_decl), desc)
                            c.methods[cur] = ""
                        pending_decl = ""
                        continue
                    if cur is None:
                        continue
                    if line.startswith("    flags: "):
                        c.methods[cur] = line
                        continue
                    m = _INVOKE.match(line)
                    if m:
                        pc, op, ref, desc = m.groups()
                        owner, _, name = ref.rpartition(".")
                        code.append((int(pc), op, owner.strip('"') or c.name, name.strip('"'), desc))
                        continue
                    m = _INDY.match(line)
                    if m:
                        code.append((int(m.group(1)), "invokedynamic", "", m.group(3), int(m.group(2))))
                        continue
                    m = _LINE.match(line)
                    if m:
                        lines.append((int(m.group(2)), int(m.group(1))))
                    continue
                if line.startswith("SourceFile: "):
                    c.source = line.split('"')[1]
                elif line.startswith("BootstrapMethods:"):
                    in_bsm = True
                elif in_bsm:
                    m = _BSM.match(line)
                    if m:
                        bsm_idx = int(m.group(1))
                        c.bootstrap[bsm_idx] = (m.group(2), "")
                        continue
                    m = _HANDLE.match(line)
                    if m and bsm_idx in c.bootstrap and not c.bootstrap[bsm_idx][1]:
                        c.bootstrap[bsm_idx] = (c.bootstrap[bsm_idx][0], f"{m.group(1)} {m.group(2)}")
                    elif not line.startswith(" "):
                        in_bsm = False
        _flush(c, cur, code, lines)
    return classes


def _flush(c: ClassInfo | None, cur: tuple[str, str] | None, code: list[tuple],
           lines: list[tuple[int, int]]) -> None:
    """The invokes of one method, each with the source line of its bytecode offset."""
    if c is None or cur is None or not code:
        return
    lines.sort()
    pcs = [p for p, _ in lines]
    for pc, op, owner, name, desc in code:
        i = bisect_right(pcs, pc) - 1
        line = lines[i][1] if i >= 0 else 0
        c.invokes.append((cur[0], cur[1], line, op, owner, name, desc))


def _header_supers(header: str) -> tuple[str, list[str]]:
    h = _strip_generics(header)
    sup, ifaces = "", []
    interface = " interface " in f" {h} "
    ext = re.search(r" extends ([^ ]+(?:, [^ ]+)*)", h)
    imp = re.search(r" implements (.+)$", h)
    if ext:
        names = [x.strip().replace(".", "/") for x in ext.group(1).split(",")]
        if interface:
            ifaces += names
        else:
            sup = names[0]
    if imp:
        ifaces += [x.strip().replace(".", "/") for x in imp.group(1).split(",")]
    if not sup and not interface:
        sup = "java/lang/Object" if "java.lang.Object " not in h + " " else ""
    # nested binary names: a header prints Outer$Inner with a '$'; dots became '/'
    return sup, ifaces


def _member_name(decl: str) -> str:
    d = decl.strip()
    if d.startswith("static {}"):
        return "<clinit>"
    head = _strip_generics(d.split("(")[0])
    name = head.split()[-1] if head.split() else head
    return "<init>" if "." in name else name


# --- descriptors and names -------------------------------------------------------------------

_DESC_TYPE = re.compile(r"\[*(?:L[^;]+;|[BCDFIJSZV])")
_PRIM = {"B": "byte", "C": "char", "D": "double", "F": "float", "I": "int", "J": "long",
         "S": "short", "Z": "boolean", "V": "void"}


def desc_params(desc: str) -> list[str]:
    """`(ILjava/util/Map$Entry;[Ljava/lang/Object;)V` -> [int, Entry, Object[]] (simple names)."""
    inner = desc[1:desc.index(")")]
    out = []
    for t in _DESC_TYPE.findall(inner):
        dims = t.count("[")
        t = t[dims:]
        s = _PRIM[t] if len(t) == 1 else re.split(r"[/$]", t[1:-1])[-1]
        out.append(s + "[]" * dims)
    return out


def kg_class_name(binary: str) -> str | None:
    """java/util/Map$Entry -> java.util.Map.Entry; Outer$1Local -> Outer.Local; anonymous -> None."""
    parts = binary.replace("/", ".").split("$")
    out = [parts[0]]
    for p in parts[1:]:
        if not p or p.isdigit():
            return None
        out.append(p.lstrip("0123456789"))
    return ".".join(out)


def _kg_params(entity_id: str) -> list[str]:
    inner = entity_id[entity_id.index("(") + 1:-1]
    if not inner:
        return []
    out = []
    for p in inner.split(","):
        dims = p.count("[]")
        base = p.replace("[]", "")
        out.append(base.rpartition(".")[2] + "[]" * dims)
    return out


def _is_type_var(simple: str) -> bool:
    base = simple.replace("[]", "")
    return len(base) <= 2 and base[:1].isupper() and (len(base) == 1 or base[1:].isupper() or base[1:].isdigit())


def _compatible(kg: list[str], bc: list[str]) -> bool:
    if len(kg) != len(bc):
        return False
    for k, b in zip(kg, bc, strict=True):
        if k == b:
            continue
        if _is_type_var(k) and k.count("[]") <= b.count("[]") and b.replace("[]", "") not in _PRIM.values() \
                or _is_type_var(k) and k.count("[]") < b.count("[]"):
            continue
        return False
    return True


# --- the KG ----------------------------------------------------------------------------------


class KGIndex:
    def __init__(self, kg_dir: Path) -> None:
        ents = pq.read_table(kg_dir / "entities.parquet",
                             columns=["entity_id", "kind", "qualified_name", "path", "start_line", "end_line"]
                             ).to_pylist()
        self.methods: dict[tuple[str, str], list[tuple[str, list[str]]]] = defaultdict(list)
        self.kinds: dict[str, str] = {}
        spans: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
        for e in ents:
            eid, kind = e["entity_id"], e["kind"]
            self.kinds[eid] = kind
            if eid.startswith("java:ext:") or not eid.startswith("java:"):
                continue
            if kind == "Method":
                owner, _, name = e["qualified_name"].rpartition(".")
                self.methods[(owner, name)].append((eid, _kg_params(eid)))
            if kind in ("Method", "Class", "Interface", "Enum") and e["path"]:
                spans[e["path"]].append((e["start_line"], e["end_line"], eid))
        self.spans = spans
        self._painted: dict[str, list[str | None]] = {}
        tri = pq.read_table(kg_dir / "triples.parquet",
                            columns=["head_id", "relation", "tail_id", "resolution", "path", "line"])
        tri = tri.filter(tri.column("relation").to_numpy(zero_copy_only=False) == "calls")
        self.calls: dict[tuple[str, str], str] = {}
        for t in tri.to_pylist():
            if t["head_id"].startswith("java:") and not t["head_id"].startswith("java:ext:"):
                self.calls.setdefault((t["head_id"], t["tail_id"]), t["resolution"])

    def caller_at(self, path: str, line: int) -> str | None:
        painted = self._painted.get(path)
        if painted is None:
            sp = self.spans.get(path, [])
            n = max((e for _s, e, _i in sp), default=0)
            painted = [None] * (n + 2)
            for s, e, eid in sorted(sp, key=lambda x: x[0] - x[1]):  # widest first
                for i in range(s, e + 1):
                    painted[i] = eid
            self._painted[path] = painted
        return painted[line] if 0 < line < len(painted) else None

    def method_id(self, cls: ClassInfo | None, binary: str, name: str, desc: str) -> tuple[str | None, str]:
        owner = kg_class_name(binary)
        if owner is None:
            return None, "anonymous class"
        cands = self.methods.get((owner, name), [])
        if not cands:
            return None, "absent"
        params = desc_params(desc)
        drops = [0]
        if name == "<init>" and cls is not None:
            if "ACC_ENUM" in cls.flags:
                drops = [2]
            elif "$" in binary:
                drops = [0, 1]
        for d in drops:
            hit = [eid for eid, kp in cands if _compatible(kp, params[d:])]
            if len(hit) == 1:
                return hit[0], ""
            if len(hit) > 1:
                exact = [eid for eid, kp in cands if kp == params[d:]]
                if len(exact) == 1:
                    return exact[0], ""
                return None, "ambiguous"
        return None, "absent"


# --- named at the call site ------------------------------------------------------------------

class Sources:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.cache: dict[str, list[str]] = {}

    def lines(self, path: str) -> list[str]:
        got = self.cache.get(path)
        if got is None:
            p = self.root / path
            got = p.read_text(errors="replace").split("\n") if p.is_file() else []
            self.cache[path] = got
        return got

    def window(self, path: str, line: int) -> str:
        """The line a call's bytecode is attributed to (javac: the line of its `(`), and the next
        one for `new T` split from its arguments."""
        ls = self.lines(path)
        return "\n".join(ls[max(0, line - 1):line + 1])


def named(text: str, name: str, owner: str, caller_name: str, cls: ClassInfo) -> bool:
    if name == "<init>":
        simple = re.split(r"[/$]", owner)[-1]
        if re.search(rf"\bnew\s+(?:[\w$.]+\.)?{re.escape(simple)}\b", text):
            return True
        if caller_name == "<init>" and owner in (cls.name, cls.super) and \
                re.search(r"\b(?:this|super)\s*\(", text):
            return True
        return bool(re.search(rf"\b{re.escape(simple)}\s*::\s*new\b", text))
    return re.search(rf"(?<![\w$]){re.escape(name)}(?![\w$])", text) is not None


_WRAPPERS = {"Integer", "Long", "Short", "Byte", "Character", "Boolean", "Float", "Double"}


def compiler_category(op: str, owner: str, name: str, caller: str, text: str) -> str:
    simple = owner.rpartition("/")[2]
    if owner in ("java/lang/StringBuilder", "java/lang/StringBuffer") and name in ("<init>", "append", "toString"):
        return "string concatenation"
    if simple in _WRAPPERS and (name == "valueOf" or name.endswith("Value")):
        return "boxing"
    if name in ("iterator", "hasNext", "next"):
        return "for-each"
    if name in ("close", "addSuppressed"):
        return "try-with-resources"
    if name == "ordinal" or name.startswith("$SwitchMap") or "$SwitchMap" in owner:
        return "enum switch"
    if owner == "java/lang/String" and name in ("hashCode", "equals"):
        return "string switch"
    if name == "desiredAssertionStatus":
        return "assert"
    if name in ("values", "valueOf", "$values"):
        return "enum values/valueOf"
    if name == "<init>" and caller == "<init>":
        return "implicit super()"
    if name in ("requireNonNull", "getClass"):
        return "null check"
    if name == "<init>":
        return "anonymous/inner construction"
    return "other compiler-made"


# --- the comparison --------------------------------------------------------------------------


_POLYMORPHIC = ("java/lang/invoke/MethodHandle", "java/lang/invoke/VarHandle")


def declaring(classes: dict[str, ClassInfo], owner: str, name: str, desc: str) -> tuple[str | None, str]:
    """The class whose method a symbolic reference resolves to (JVMS 5.4.3.3/4, first found),
    with the descriptor declared there (a signature-polymorphic method's own is `(Object[])`)."""
    if owner.startswith("["):  # clone() and the other methods of an array are Object's
        owner = "java/lang/Object"
    if owner in _POLYMORPHIC and (name, desc) not in classes[owner].methods:
        poly = (name, "([Ljava/lang/Object;)Ljava/lang/Object;")
        hit = [k for k in classes[owner].methods if k[0] == name and k[1].startswith("([Ljava/lang/Object;)")]
        return (owner, hit[0][1]) if len(hit) == 1 else (None, poly[1])
    found = _declaring(classes, owner, name, desc)
    return found, desc


def _declaring(classes: dict[str, ClassInfo], owner: str, name: str, desc: str) -> str | None:
    seen = set()
    c = classes.get(owner)
    chain = []
    while c is not None and c.name not in seen:
        seen.add(c.name)
        chain.append(c)
        flags = c.methods.get((name, desc))
        if flags is not None and "ACC_BRIDGE" not in flags:
            return c.name
        if name == "<init>":
            return None
        c = classes.get(c.super) if c.super else None
    queue = [i for k in chain for i in k.interfaces]
    while queue:
        n = queue.pop(0)
        if n in seen:
            continue
        seen.add(n)
        c = classes.get(n)
        if c is None:
            continue
        flags = c.methods.get((name, desc))
        if flags is not None and "ACC_BRIDGE" not in flags:
            return c.name
        queue.extend(c.interfaces)
    return None


def facts_category(facts_cache: dict, src_root: Path, path: str, line: int, name: str) -> str:
    """How the KG's own syntax facts see the missed call: its receiver kind at that line."""
    from graphmer_core.parsing.java import extract

    facts = facts_cache.get(path)
    if facts is None:
        p = src_root / path
        facts = extract(p.read_bytes()) if p.is_file() else {"calls": [], "news": []}
        facts_cache[path] = facts
    if name == "<init>":
        for n in facts["news"]:
            if abs(n[3] - line) <= 1:
                return "constructor: anonymous class" if n[4] else "constructor: new"
        for c in facts["calls"]:
            if c[1] == "<init>" and abs(c[6] - line) <= 1:
                return f"constructor: {c[2]}(..)"
        return "constructor: other"
    rows = [c for c in facts["calls"] if c[1] == name and 0 <= line - c[6] <= 8]
    if not rows:
        return "method reference or not extracted"
    c = max(rows, key=lambda c: c[6])
    rk = c[2] or "unqualified"
    labels = {"id": "receiver: a name", "q": "receiver: a dotted name", "tf": "receiver: this.field",
              "call": "receiver: a call (chain)", "new": "receiver: new T()", "cast": "receiver: a cast",
              "str": "receiver: a string", "?": "receiver: other expression", "this": "this.m()",
              "super": "super.m()", "unqualified": "unqualified m()", "ai": "receiver: an array element",
              "cls": "receiver: a class literal"}
    label = labels.get(rk, rk)
    if c[7]:
        label += " (in an anonymous class)"
    return label


def compare(classes: dict[str, ClassInfo], kg: KGIndex, src_root: Path) -> dict:
    sources = Sources(src_root)
    truth_named: dict[tuple[str, str], tuple[str, int]] = {}
    truth_all: set[tuple[str, str]] = set()
    compiler_made: Counter = Counter()
    compiler_examples: dict[str, list[str]] = defaultdict(list)
    unmapped: Counter = Counter()
    n_invokes = 0
    files_with_classes: set[str] = set()
    for c in classes.values():
        if not c.source:
            continue
        pkg = c.name.rpartition("/")[0]
        path = f"{pkg}/{c.source}" if pkg else c.source
        files_with_classes.add(path)
        for caller_name, _cdesc, line, op, owner, name, ref in c.invokes:
            n_invokes += 1
            text = sources.window(path, line)
            if op == "invokedynamic":
                bsm, handle = c.bootstrap.get(ref, ("", ""))
                if "StringConcatFactory" in bsm:
                    compiler_made["string concatenation"] += 1
                    continue
                if "ObjectMethods" in bsm:
                    compiler_made["record methods"] += 1
                    continue
                if "LambdaMetafactory" not in bsm or not handle:
                    compiler_made["other invokedynamic"] += 1
                    continue
                kind, target = handle.split(" ", 1)
                m = re.match(r"(.+)\.(\"?[^.\"]+\"?):(\(.*)$", target)
                if m is None:
                    unmapped["unparsed handle"] += 1
                    continue
                owner, name, desc = m.group(1), m.group(2).strip('"'), m.group(3)
                if name.startswith("lambda$"):
                    compiler_made["lambda bridge (invokedynamic)"] += 1
                    continue
                op = "methodref"
            else:
                desc = ref
                if "$" in name:
                    compiler_made["synthetic method"] += 1
                    continue
            decl, desc = declaring(classes, owner, name, desc)
            if decl is None:
                unmapped["owner outside java.base" if owner not in classes else "no declaration"] += 1
                continue
            dcls = classes.get(decl)
            if dcls is not None and "ACC_SYNTHETIC" in dcls.methods.get((name, desc), ""):
                compiler_made["synthetic method"] += 1
                continue
            callee, why = kg.method_id(dcls, decl, name, desc)
            caller = kg.caller_at(path, line)
            is_named = op == "methodref" or named(text if name == "<init>" else text.split("\n")[0],
                                                  name, owner, caller_name, c)
            if callee is None:
                if name in ("values", "valueOf") and dcls is not None and "ACC_ENUM" in dcls.flags:
                    compiler_made["enum values/valueOf"] += 1
                elif name == "<init>" and why == "absent" and not is_named:
                    compiler_made["default constructor"] += 1
                elif name == "<init>" and why == "absent":
                    unmapped["constructor not in KG (default or anonymous)"] += 1
                else:
                    unmapped[f"callee {why}"] += 1
                continue
            if caller is None:
                unmapped["caller line outside KG spans"] += 1
                continue
            pair = (caller, callee)
            truth_all.add(pair)
            if is_named:
                truth_named.setdefault(pair, (path, line, name if op != "methodref" else "::" + name))
            else:
                cat = compiler_category(op, owner, name, caller_name, text)
                compiler_made[cat] += 1
                if len(compiler_examples[cat]) < 5:
                    compiler_examples[cat].append(f"{path}:{line} {owner}.{name}")
    # recall
    facts_cache: dict = {}
    hits = 0
    miss_cat: Counter = Counter()
    miss_examples: dict[str, list] = defaultdict(list)
    for pair, (path, line, name) in truth_named.items():
        if pair in kg.calls:
            hits += 1
            continue
        if name.startswith("::"):
            cat = "method reference"
        else:
            cat = facts_category(facts_cache, src_root, path, line, name)
            qname = pair[1].split("(")[0]
            if any(t.split("(")[0] == qname for _h, t in kg.calls_by_head.get(pair[0], ())):
                cat = "other overload chosen (" + cat + ")"
        miss_cat[cat] += 1
        if len(miss_examples[cat]) < 8:
            code = sources.lines(path)[line - 1].strip() if 0 < line <= len(sources.lines(path)) else ""
            miss_examples[cat].append(f"{path}:{line} -> {pair[1]}  | {code[:110]}")
    # precision
    checkable = {p: r for p, r in kg.calls.items() if not p[1].startswith("java:ext:")
                 and kg.kinds.get(p[1]) == "Method" and _path_of(kg, p[0]) in files_with_classes}
    per_res: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    wrong_examples: list[str] = []
    correct = 0
    for p, res in checkable.items():
        ok = p in truth_all
        correct += ok
        per_res[res][0] += ok
        per_res[res][1] += 1
        if not ok and len(wrong_examples) < 25:
            wrong_examples.append(f"[{res}] {p[0]} -> {p[1]}")
    return {
        "invokes": n_invokes, "compiler_made": dict(compiler_made.most_common()),
        "unmapped": dict(unmapped.most_common()),
        "truth_named": len(truth_named), "truth_all": len(truth_all),
        "recall": hits / max(1, len(truth_named)), "hits": hits,
        "misses": dict(miss_cat.most_common()),
        "miss_examples": {k: v for k, v in miss_examples.items()},
        "kg_edges_checkable": len(checkable), "kg_edges_correct": correct,
        "precision": correct / max(1, len(checkable)),
        "precision_by_resolution": {k: [v[0], v[1]] for k, v in sorted(per_res.items())},
        "wrong_examples": wrong_examples, "compiler_examples": compiler_examples,
    }


_PATHS: dict[str, str] = {}


def _path_of(kg: KGIndex, eid: str) -> str | None:
    if not _PATHS:
        for path, sp in kg.spans.items():
            for _s, _e, i in sp:
                _PATHS[i] = path
    return _PATHS.get(eid)


# --- driver ----------------------------------------------------------------------------------


def build_kg_dir(src: Path, lake_dir: Path, workers: int) -> Path:
    from graphmer_core.corpus.discovery import Corpus
    from graphmer_core.kg.build import build_kg
    from graphmer_core.lake import Lake

    t = time.perf_counter()
    result = build_kg([Corpus("jdk", src)], Lake(lake_dir), workers=workers, gates=None)
    print(f"KG of {src} built in {time.perf_counter() - t:.1f} s: {result.kg_dir}")
    return result.kg_dir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", type=Path, default=DEFAULT_SRC, help="java.base sources (src.zip's java.base)")
    ap.add_argument("--kg", type=Path, help="a built KG version folder (entities/triples.parquet)")
    ap.add_argument("--lake", type=Path, help="lake to build the KG in (default: a temporary one)")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "graphmer-javap",
                    help="cache of extracted classes and javap output")
    ap.add_argument("--jmod", type=Path, help="java.base.jmod to compare against (default: the JDK's own)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--save", type=Path, help="write the figures as JSON")
    ap.add_argument("--previous", type=Path, help="figures of an earlier run (--save) to print beside")
    ap.add_argument("--examples", action="store_true", help="print example misses and wrong edges")
    args = ap.parse_args()

    home = java_home()
    jmod = args.jmod or home / "jmods" / "java.base.jmod"
    key = f"{jdk_version(home)}-{jmod.stat().st_size}" if jmod.is_file() else jdk_version(home)
    work = args.work / key
    work.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    classes_dir = extract_classes(home, jmod, work)
    classes = parse_javap(run_javap(home, classes_dir, work, args.workers))
    cls_version = _class_version(work)
    src_version = _source_version(args.src)
    print(f"classes: {len(classes)} of java.base {cls_version} ({jmod if jmod.is_file() else home}), "
          f"read in {time.perf_counter() - t:.1f} s")
    print(f"sources: java.base {src_version} ({args.src})")
    if cls_version != src_version:
        print("WARNING: the classes and the sources are of different JDK builds: line numbers may "
              "disagree (--jmod takes the java.base.jmod of the sources' build)")

    if args.kg is not None:
        kg_dir = args.kg
    else:
        lake = args.lake or Path(tempfile.mkdtemp(prefix="graphmer-recall-"))
        kg_dir = build_kg_dir(args.src, lake, args.workers)
    kg = KGIndex(kg_dir)
    kg.calls_by_head = defaultdict(list)
    for h, tl in kg.calls:
        kg.calls_by_head[h].append((h, tl))
    r = compare(classes, kg, args.src)
    r["jdk"] = {"classes": cls_version, "sources": src_version}
    prev = json.loads(args.previous.read_text()) if args.previous else None
    report(r, prev, args.examples)
    if args.save:
        args.save.write_text(json.dumps(r, indent=1))


def _source_version(src: Path) -> str:
    """The JDK version the sources were cut from (java.lang.VersionProps' java_version)."""
    p = src / "java" / "lang" / "VersionProps.java"
    m = re.search(r'java_version\s*=\s*"([^"]+)"', p.read_text()) if p.is_file() else None
    return m.group(1) if m else "?"


def _class_version(work: Path) -> str:
    """The same constant in the compiled java.lang.VersionProps."""
    out = subprocess.run([str(java_home() / "bin" / "javap"), "-constants", "-p", "java/lang/VersionProps.class"],
                         cwd=work / "classes", capture_output=True, text=True).stdout
    m = re.search(r'java_version = "([^"]+)"', out)
    return m.group(1) if m else "?"


def report(r: dict, prev: dict | None, examples: bool) -> None:
    def col(key: str, fmt: str = "{:.3f}") -> str:
        now = fmt.format(r[key])
        return f"{now:>10}" + (f"   (before {fmt.format(prev[key])})" if prev and key in prev else "")

    print(f"\ninvoke instructions {r['invokes']:,}; compiler-made left out: "
          f"{sum(r['compiler_made'].values()):,}; not mappable: {sum(r['unmapped'].values()):,}")
    print(f"calls named at the site (distinct caller -> callee): {r['truth_named']:,}; "
          f"all mapped: {r['truth_all']:,}")
    print(f"recall    {col('recall')}   ({r['hits']:,} of {r['truth_named']:,})")
    print(f"precision {col('precision')}   ({r['kg_edges_correct']:,} of {r['kg_edges_checkable']:,} KG edges)")
    print("\nprecision by resolution:")
    for k, (ok, n) in r["precision_by_resolution"].items():
        before = ""
        if prev and k in prev.get("precision_by_resolution", {}):
            po, pn = prev["precision_by_resolution"][k]
            before = f"   (before {po / max(1, pn):.3f} of {pn:,})"
        print(f"  {k:<14} {ok / max(1, n):.3f} of {n:>7,}{before}")
    print("\nmisses by category (the KG's syntax facts of the call site):")
    cats = list(r["misses"])
    if prev:
        cats += [c for c in prev.get("misses", {}) if c not in r["misses"]]
    for k in cats:
        before = f"   (before {prev['misses'].get(k, 0):,})" if prev else ""
        print(f"  {r['misses'].get(k, 0):>7,}  {k}{before}")
    print("\ncompiler-made calls left out:")
    for k, v in r["compiler_made"].items():
        print(f"  {v:>7,}  {k}")
    print("not mappable to KG entities:")
    for k, v in r["unmapped"].items():
        print(f"  {v:>7,}  {k}")
    if examples:
        print("\nexample misses:")
        for k, v in r["miss_examples"].items():
            print(f"  {k}:")
            for x in v:
                print(f"    {x}")
        print("\nexample compiler-made calls:")
        for k, v in r["compiler_examples"].items():
            print(f"  {k}: {'; '.join(v)}")
        print("\nexample KG edges the bytecode does not have:")
        for x in r["wrong_examples"]:
            print(f"  {x}")


if __name__ == "__main__":
    main()
