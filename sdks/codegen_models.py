"""The typed models of the four SDKs, from the component schemas of docs/openapi.json (used by codegen.py).

The schemas are first read into one small model of types, the same for every language:

    ("string" | "integer" | "number" | "boolean", format)   a scalar
    ("enum", (values...))                                    strings, one of these
    ("ref", Name)                                            a named model
    ("array", type) / ("map", type)                          a list / an object of any keys
    ("any",)                                                 any JSON value
    ("nullable", type)                                       the type or null

and named models: ("object", description, fields) with fields (json name, type, required,
description); ("enum", description, values); ("alias", description, type). oneOf of objects
becomes one object whose fields are required only where every variant requires them (TypeScript
keeps the union too); allOf is merged; a oneOf or allOf part that only lists required names (the
"exactly one of" rules) adds no type. Inline objects get the name of their parent and property.
Whatever a schema says that these cannot hold (a oneOf of a string and an object, say) is any JSON
value, so every document generates. Names are processed in sorted order: the output is
deterministic.
"""

import keyword
import re

SCALARS = ("string", "integer", "number", "boolean")


def pascal(text):
    parts = re.split(r"[^0-9A-Za-z]+", text)
    out = "".join(p[:1].upper() + p[1:] for p in parts if p)
    if not out:
        out = "Value"
    if out[0].isdigit():
        out = "V" + out
    return out


def one_line(text):
    return " ".join((text or "").split())


class Reader:
    def __init__(self, document):
        self.schemas = document.get("components", {}).get("schemas", {})
        self.models = {}
        self.variants = {}  # union name -> [variant model names] (TypeScript's union)
        self.taken = set(self.schemas)

    def read(self):
        for name in sorted(self.schemas):
            self.top(name, self.schemas[name])
        return self.models, self.variants

    def fresh(self, name):
        base, n = name, 2
        while name in self.taken:
            name = f"{base}{n}"
            n += 1
        self.taken.add(name)
        return name

    def resolve(self, schema, depth=0):
        while isinstance(schema, dict) and "$ref" in schema and depth < 50:
            target = schema["$ref"].rsplit("/", 1)[-1]
            schema = self.schemas.get(target, {})
            depth += 1
        return schema if isinstance(schema, dict) else {}

    @staticmethod
    def constraint_only(schema):
        """A part that only says which names are required (or other rules) and adds no type."""
        if not isinstance(schema, dict):
            return True
        typed = ("type", "properties", "$ref", "items", "enum", "const", "additionalProperties", "allOf")
        if any(k in schema for k in typed):
            return False
        for key in ("oneOf", "anyOf"):
            if key in schema and not all(Reader.constraint_only(s) for s in schema[key]):
                return False
        return True

    def is_objectish(self, schema, depth=0):
        schema = self.resolve(schema)
        if depth > 20:
            return False
        if "properties" in schema:
            return True
        if "allOf" in schema:
            parts = [p for p in schema["allOf"] if not self.constraint_only(p)]
            return bool(parts) and all(self.is_objectish(p, depth + 1) for p in parts)
        return False

    def fields_of(self, schema, owner, depth=0):
        """The fields of an object-like schema (properties, allOf merged), in sorted order."""
        schema = self.resolve(schema)
        fields = {}
        required = set(schema.get("required", []) or [])
        for part in schema.get("allOf", []) if depth < 20 else []:
            if self.constraint_only(part):
                continue
            for fname, (ftype, freq, fdesc) in self.fields_of(part, owner, depth + 1).items():
                fields[fname] = (ftype, freq or fname in required, fdesc)
        for pname in sorted(schema.get("properties", {}) or {}):
            pschema = schema["properties"][pname]
            ftype = self.type_of(pschema, owner + pascal(pname))
            fdesc = pschema.get("description", "") if isinstance(pschema, dict) else ""
            if not fdesc and isinstance(pschema, dict):
                fdesc = self.resolve(pschema).get("description", "") if "$ref" not in pschema else ""
            fields[pname] = (ftype, pname in required, fdesc)
        for pname in required:
            if pname in fields:
                ftype, _, fdesc = fields[pname]
                fields[pname] = (ftype, True, fdesc)
        return dict(sorted(fields.items()))

    def object_model(self, name, schema, description):
        fields = self.fields_of(schema, name)
        self.models[name] = ("object", description, [(n, t, r, d) for n, (t, r, d) in fields.items()])

    def union_model(self, name, variants, description):
        """oneOf/anyOf of objects: one object; a field required only where every variant requires it."""
        merged, counts, names = {}, {}, []
        for i, variant in enumerate(variants):
            label = self.variant_label(variant, i)
            vname = variant["$ref"].rsplit("/", 1)[-1] if "$ref" in variant else self.fresh(name + label)
            if "$ref" not in variant:
                self.object_model(vname, variant, one_line(variant.get("description", "")) or f"One shape of {name}.")
            names.append(vname)
            for fname, (ftype, freq, fdesc) in self.fields_of(variant, vname).items():
                if fname in merged:
                    old = merged[fname]
                    ftype2 = old[0] if old[0] == ftype else merge_types(old[0], ftype)
                    merged[fname] = (ftype2, old[1] and freq, old[2] or fdesc)
                else:
                    merged[fname] = (ftype, freq, fdesc)
                counts[fname] = counts.get(fname, 0) + 1
        fields = []
        for fname in sorted(merged):
            ftype, freq, fdesc = merged[fname]
            fields.append((fname, ftype, freq and counts[fname] == len(variants), fdesc))
        self.models[name] = ("object", description, fields)
        self.variants[name] = names

    def variant_label(self, variant, i):
        schema = self.resolve(variant)
        for pname in sorted(schema.get("properties", {}) or {}):
            p = schema["properties"][pname]
            if isinstance(p, dict):
                values = p.get("enum") or ([p["const"]] if "const" in p else None)
                if values and len(values) == 1 and isinstance(values[0], str):
                    return pascal(values[0])
        return f"Variant{i + 1}"

    def top(self, name, schema):
        if not isinstance(schema, dict):
            self.models[name] = ("alias", "", ("any",))
            return
        description = one_line(schema.get("description", ""))
        kind = self.classify(schema)
        if kind == "object":
            self.object_model(name, schema, description)
        elif kind == "union":
            self.union_model(name, self.non_null(schema), description)
        else:
            t = self.type_of(schema, name)
            if t[0] == "enum":
                self.models[name] = ("enum", description, t[1])
            else:
                self.models[name] = ("alias", description, t)

    def non_null(self, schema):
        key = "oneOf" if "oneOf" in schema else "anyOf"
        return [s for s in schema[key] if isinstance(s, dict) and s.get("type") != "null"]

    def classify(self, schema):
        if "$ref" in schema:
            return "other"
        if "properties" in schema and schema.get("type", "object") in ("object", ["object"]):
            return "object"
        if "allOf" in schema and self.is_objectish(schema):
            return "object"
        if ("oneOf" in schema or "anyOf" in schema) and "type" not in schema:
            variants = [v for v in self.non_null(schema) if not self.constraint_only(v)]
            if len(variants) > 1 and all(self.is_objectish(v) for v in variants):
                return "union" if len(variants) == len(self.non_null(schema)) else "other"
        if schema.get("type") == "object" and "additionalProperties" not in schema and "properties" not in schema:
            return "other"
        if schema.get("type") == "object" and schema.get("additionalProperties") is False:
            return "object"
        return "other"

    def type_of(self, schema, name, depth=0):
        """The type of a schema; inline objects become models named `name`."""
        if depth > 30 or not isinstance(schema, dict):
            return ("any",)
        if "$ref" in schema:
            return ("ref", schema["$ref"].rsplit("/", 1)[-1])
        nullable = bool(schema.get("nullable"))
        types = schema.get("type")
        if isinstance(types, list):
            nullable = nullable or "null" in types
            types = [t for t in types if t != "null"]
            types = types[0] if len(types) == 1 else (None if not types else "mixed")
        if types == "null":
            return ("any",)
        if "oneOf" in schema or "anyOf" in schema:
            key = "oneOf" if "oneOf" in schema else "anyOf"
            variants = [v for v in schema[key] if not self.constraint_only(v)]
            nulls = [v for v in variants if isinstance(v, dict) and v.get("type") == "null"]
            variants = [v for v in variants if v not in nulls]
            nullable = nullable or bool(nulls)
            if variants and types is None and "properties" not in schema and "allOf" not in schema:
                if len(variants) == 1:
                    inner = self.type_of({**{k: v for k, v in schema.items() if k not in (key, "nullable")}, **variants[0]}, name, depth + 1)
                elif all(self.is_objectish(v) for v in variants):
                    mname = self.fresh(name)
                    self.union_model(mname, variants, one_line(schema.get("description", "")))
                    inner = ("ref", mname)
                else:
                    kinds = [self.type_of(v, name, depth + 1) for v in variants]
                    inner = kinds[0]
                    for k in kinds[1:]:
                        inner = merge_types(inner, k)
                return wrap(inner, nullable)
        if "allOf" in schema:
            parts = [p for p in schema["allOf"] if not self.constraint_only(p)]
            if len(parts) == 1 and "properties" not in schema:
                return wrap(self.type_of(parts[0], name, depth + 1), nullable)
            if parts and self.is_objectish(schema):
                mname = self.fresh(name)
                self.object_model(mname, schema, one_line(schema.get("description", "")))
                return wrap(("ref", mname), nullable)
            return wrap(("any",), nullable)
        if "const" in schema and isinstance(schema["const"], str):
            return wrap(("enum", (schema["const"],)), nullable)
        if "enum" in schema:
            values = [v for v in schema["enum"] if v is not None]
            nullable = nullable or None in schema["enum"]
            if values and all(isinstance(v, str) for v in values):
                return wrap(("enum", tuple(values)), nullable)
            if values and all(isinstance(v, bool) for v in values):
                return wrap(("boolean", None), nullable)
            if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
                return wrap(("integer", None), nullable)
        if types in SCALARS:
            return wrap((types, schema.get("format")), nullable)
        if types == "array" or (types is None and "items" in schema):
            return wrap(("array", self.type_of(schema.get("items", {}), name + "Item", depth + 1)), nullable)
        if types == "object" or (types is None and ("properties" in schema or "additionalProperties" in schema)):
            if schema.get("properties") or schema.get("additionalProperties") is False:
                mname = self.fresh(name)
                self.object_model(mname, schema, one_line(schema.get("description", "")))
                return wrap(("ref", mname), nullable)
            extra = schema.get("additionalProperties", True)
            value = ("any",) if extra is True or not isinstance(extra, dict) else self.type_of(extra, name + "Value", depth + 1)
            return wrap(("map", value), nullable)
        return wrap(("any",), nullable)


def wrap(t, nullable):
    if nullable and t[0] not in ("nullable", "any"):
        return ("nullable", t)
    return t


def merge_types(a, b):
    if a == b:
        return a
    na, nb = a[0] == "nullable", b[0] == "nullable"
    ia, ib = (a[1] if na else a), (b[1] if nb else b)
    if ia == ib:
        return ("nullable", ia)
    if ia[0] == "enum" and ib[0] == "enum":
        values = tuple(dict.fromkeys(ia[1] + ib[1]))
        return wrap(("enum", values), na or nb)
    if ia[0] in SCALARS and ia[0] == ib[0]:
        return wrap((ia[0], ia[1] if ia[1] == ib[1] else None), na or nb)
    return ("any",)


def read_models(document):
    models, variants = Reader(document).read()
    # Aliases of aliases are followed where a field uses them, so every renderer sees a real type.
    return dict(sorted(models.items())), variants


def unalias(t, models, depth=0):
    """The type with references to aliases replaced by what they stand for."""
    if depth > 20:
        return ("any",)
    kind = t[0]
    if kind == "ref":
        model = models.get(t[1])
        if model is None:
            return ("any",)
        if model[0] == "alias":
            return unalias(model[2], models, depth + 1)
        return t
    if kind in ("array", "map", "nullable"):
        inner = unalias(t[1], models, depth + 1)
        return wrap(inner, True) if kind == "nullable" else (kind, inner)
    return t


def rename_models(models, variants, taken):
    """The models under names a language can use: PascalCase identifiers, none of `taken` (the
    names its generated module already uses), "Model" appended where one would be."""
    mapping, used = {}, set(taken)
    for name in models:
        new = pascal(name)
        while new in used:
            new += "Model"
        used.add(new)
        mapping[name] = new

    def retype(t):
        if t[0] == "ref":
            return ("ref", mapping.get(t[1], t[1]))
        if t[0] in ("array", "map", "nullable"):
            return (t[0], retype(t[1]))
        return t

    renamed = {}
    for name, (kind, description, body) in models.items():
        if kind == "object":
            body = [(f, retype(t), r, d) for f, t, r, d in body]
        elif kind == "alias":
            body = retype(body)
        renamed[mapping[name]] = (kind, description, body)
    return renamed, {mapping[k]: [mapping[v] for v in vs] for k, vs in variants.items()}


def doc(text, width=100):
    """A description in one line, cut to a sane length for a comment."""
    text = one_line(text).replace("*/", "* /").replace('"' * 3, "'" * 3)
    # A Markdown table (the error codes') is for the document's readers, not a comment.
    text = text.split(" | ", 1)[0].rstrip(" |") if " | " in text else text
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


# -- Python ------------------------------------------------------------------------------------------

PY_RESERVED = set(keyword.kwlist) | {"from_dict", "to_dict", "get", "self", "cls"}
# The names the generated module imports or defines besides the models.
PY_TAKEN = {"Any", "Callable", "ClassVar", "Dict", "List", "Literal", "Mapping", "Optional", "Tuple", "annotations",
            "dataclass"} | set(keyword.kwlist)
TS_TAKEN = {"Array", "Record", "Partial", "Required", "Readonly", "Pick", "Omit", "Promise", "String", "Number",
            "Boolean", "Object", "Date", "Map", "Set", "Error", "Function", "Symbol", "BigInt", "JSON", "Math",
            "Exclude", "Extract", "NonNullable", "ReturnType"}


def py_attr(name):
    attr = re.sub(r"[^0-9A-Za-z_]", "_", name)
    if not attr or attr[0].isdigit():
        attr = "_" + attr
    return attr + "_" if attr in PY_RESERVED else attr


def py_type(t, models):
    kind = t[0]
    if kind == "string":
        return "str"
    if kind == "integer":
        return "int"
    if kind == "number":
        return "float"
    if kind == "boolean":
        return "bool"
    if kind == "enum":
        return "Literal[" + ", ".join(repr(v) for v in t[1]) + "]"
    if kind == "ref":
        return t[1]
    if kind == "array":
        return f"List[{py_type(t[1], models)}]"
    if kind == "map":
        return f"Dict[str, {py_type(t[1], models)}]"
    if kind == "nullable":
        return f"Optional[{py_type(t[1], models)}]"
    return "Any"


def py_codec(t, models):
    """The (decode, encode) expressions of a type, or None when a JSON value is the value."""
    kind = t[0]
    if kind == "ref" and models.get(t[1], ("",))[0] == "object":
        return f"_model({t[1]})"
    if kind in ("array", "map", "nullable"):
        inner = py_codec(t[1], models)
        if inner is None:
            return None
        return f"_{'list' if kind == 'array' else kind}({inner})" if kind != "nullable" else inner
    return None


def python_models(models, variants, header):
    models, variants = rename_models(models, variants, PY_TAKEN)
    lines = [
        f'"""The API\'s models, one per component schema of the OpenAPI document. {header}',
        "",
        "Each model is a dataclass with `from_dict` (a parsed JSON object; unknown fields are ignored, so a",
        "newer server's answers still read) and `to_dict` (the JSON object to send; optional fields left as",
        "None are not sent). Amounts are integers in minor units; enums are strings (their values in the",
        'type). Fields keep the API\'s names (a Python keyword gets a trailing underscore)."""',
        "",
        "from __future__ import annotations",
        "",
        "from dataclasses import dataclass",
        "from typing import Any, Callable, ClassVar, Dict, List, Literal, Mapping, Optional, Tuple",
        "",
        "",
        "class _Codec:",
        "    def __init__(self, decode: Callable[[Any], Any], encode: Callable[[Any], Any]):",
        "        self.decode, self.encode = decode, encode",
        "",
        "",
        "def _model(cls) -> _Codec:",
        "    return _Codec(",
        "        lambda v: None if v is None else cls.from_dict(v),",
        "        lambda v: v.to_dict() if isinstance(v, _Model) else v,",
        "    )",
        "",
        "",
        "def _list(item: _Codec) -> _Codec:",
        "    return _Codec(",
        "        lambda v: None if v is None else [item.decode(x) for x in v],",
        "        lambda v: None if v is None else [item.encode(x) for x in v],",
        "    )",
        "",
        "",
        "def _map(value: _Codec) -> _Codec:",
        "    return _Codec(",
        "        lambda v: None if v is None else {k: value.decode(x) for k, x in v.items()},",
        "        lambda v: None if v is None else {k: value.encode(x) for k, x in v.items()},",
        "    )",
        "",
        "",
        "class _Model:",
        "    # (attribute, JSON name, required, codec or None); set below, once every model exists.",
        "    _fields: ClassVar[Tuple[Tuple[str, str, bool, Optional[_Codec]], ...]] = ()",
        "",
        "    @classmethod",
        "    def from_dict(cls, data: Mapping[str, Any]):",
        "        if not isinstance(data, Mapping):",
        "            raise TypeError(f\"{cls.__name__} is read from a JSON object, not {type(data).__name__}\")",
        "        values = {}",
        "        for attr, name, _, codec in cls._fields:",
        "            value = data.get(name)",
        "            values[attr] = codec.decode(value) if codec is not None else value",
        "        return cls(**values)",
        "",
        "    def __getitem__(self, name: str) -> Any:",
        "        \"\"\"The field of that JSON name: code written for 0.1.0, whose named methods answered",
        "        dicts, keeps reading (`payment[\"status\"]`); new code reads the attributes.\"\"\"",
        "        for attr, json_name, _, _ in self._fields:",
        "            if json_name == name:",
        "                return getattr(self, attr)",
        "        raise KeyError(name)",
        "",
        "    def get(self, name: str, default: Any = None) -> Any:",
        "        try:",
        "            value = self[name]",
        "        except KeyError:",
        "            return default",
        "        return default if value is None else value",
        "",
        "    def to_dict(self) -> Dict[str, Any]:",
        "        out: Dict[str, Any] = {}",
        "        for attr, name, required, codec in self._fields:",
        "            value = getattr(self, attr)",
        "            if value is None and not required:",
        "                continue",
        "            out[name] = codec.encode(value) if codec is not None and value is not None else value",
        "        return out",
        "",
    ]
    fields_table = []
    for name, model in models.items():
        kind = model[0]
        lines.append("")
        if kind == "enum":
            if model[1]:
                lines.append(f"# {doc(model[1])}")
            lines.append(f"{name} = {py_type(('enum', model[2]), models)}")
            continue
        if kind == "alias":
            if model[1]:
                lines.append(f"# {doc(model[1])}")
            lines.append(f"{name} = {py_type(model[2], models)}")
            continue
        lines += ["", "@dataclass", f"class {name}(_Model):"]
        description = model[1]
        if name in variants:
            description = (description + " " if description else "") + "One of: " + ", ".join(variants[name]) + " (merged)."
        text = (doc(description, 200) or name).replace("\\", "\\\\")
        lines.append(f'    """{text} """' if text.endswith('"') else f'    """{text}"""')
        lines.append("")
        fields = model[2]
        # Required fields first (a dataclass wants defaults last); every field may be None when read.
        ordered = [f for f in fields if f[2]] + [f for f in fields if not f[2]]
        entries = []
        for fname, ftype, required, fdesc in ordered:
            ftype = unalias(ftype, models)
            attr = py_attr(fname)
            annotation = py_type(ftype, models)
            if not required and ftype[0] != "nullable":
                annotation = f"Optional[{annotation}]"
            if fdesc:
                lines.append(f"    # {doc(fdesc)}")
            lines.append(f"    {attr}: {annotation}" + ("" if required else " = None"))
            entries.append(f"    ({attr!r}, {fname!r}, {required}, {py_codec(ftype, models) or 'None'}),")
        if not fields:
            lines.append("    pass")
        fields_table.append((name, entries))
    lines += ["", ""]
    for name, entries in fields_table:
        if entries:
            lines.append(f"{name}._fields = (")
            lines += entries
            lines.append(")")
    lines.append("")
    lines.append("__all__ = [")
    lines += [f"    {n!r}," for n in models]
    lines += ["]", ""]
    return "\n".join(lines)


# -- TypeScript --------------------------------------------------------------------------------------


def ts_type(t, models):
    kind = t[0]
    if kind == "string":
        return "string"
    if kind in ("integer", "number"):
        return "number"
    if kind == "boolean":
        return "boolean"
    if kind == "enum":
        return " | ".join(json_str(v) for v in t[1])
    if kind == "ref":
        return t[1]
    if kind == "array":
        inner = ts_type(t[1], models)
        return f"Array<{inner}>" if " " in inner else f"{inner}[]"
    if kind == "map":
        return f"Record<string, {ts_type(t[1], models)}>"
    if kind == "nullable":
        return f"{ts_type(t[1], models)} | null"
    return "unknown"


def json_str(value):
    import json

    return json.dumps(value, ensure_ascii=False)


def ts_key(name):
    return name if re.fullmatch(r"[A-Za-z_$][0-9A-Za-z_$]*", name) else json_str(name)


def typescript_models(models, variants, header):
    models, variants = rename_models(models, variants, TS_TAKEN | {v + "Variants" for v in variants})
    lines = [
        f"// {header}",
        "//",
        "// The API's models, one per component schema of the OpenAPI document, as the JSON is on the wire:",
        "// fields keep the API's names, amounts are integers in minor units, enums are unions of strings.",
        "// Integers are `number`s, as JSON.parse gives them: exact up to 2^53 - 1 (90 071 992 547 409.91",
        "// yuan in fen), the bound of every amount these SDKs send or read exactly.",
        "// A oneOf of objects is the union of its variants (`<Name>Variants`) and one interface with",
        "// every field (`<Name>`).",
        "",
    ]
    for name, model in models.items():
        kind = model[0]
        if model[1]:
            lines.append(f"/** {doc(model[1], 200)} */")
        if kind == "enum":
            lines.append(f"export type {name} = {ts_type(('enum', model[2]), models)};")
        elif kind == "alias":
            lines.append(f"export type {name} = {ts_type(model[2], models)};")
        else:
            lines.append(f"export interface {name} {{")
            for fname, ftype, required, fdesc in model[2]:
                if fdesc:
                    lines.append(f"  /** {doc(fdesc, 200)} */")
                lines.append(f"  {ts_key(fname)}{'' if required else '?'}: {ts_type(ftype, models)};")
            lines.append("}")
            if name in variants:
                lines.append(f"export type {name}Variants = {' | '.join(variants[name])};")
        lines.append("")
    return "\n".join(lines)


# -- Go ----------------------------------------------------------------------------------------------

GO_INITIALISMS = {"id", "url", "api", "http", "json", "uri", "ip", "sql", "sms", "otp", "uuid", "ui", "html", "ok"}
GO_RESERVED = {"break", "case", "chan", "const", "continue", "default", "defer", "else", "fallthrough", "for",
               "func", "go", "goto", "if", "import", "interface", "map", "package", "range", "return",
               "select", "struct", "switch", "type", "var"}


def go_name(text):
    parts = [p for p in re.split(r"[^0-9A-Za-z]+", text) if p]
    out = "".join(p.upper() if p.lower() in GO_INITIALISMS and p.lower() != "ok" else p[:1].upper() + p[1:] for p in parts)
    if not out:
        out = "Value"
    if out[0].isdigit():
        out = "V" + out
    return out


def go_type(t, models, optional):
    """The Go type of a field; optional (or nullable) scalars and structs are pointers."""
    kind = t[0]
    if kind == "nullable":
        return go_type(t[1], models, True)
    if kind in ("array", "map", "any"):
        if kind == "any":
            return "any"
        inner = go_type(t[1], models, t[1][0] == "nullable")
        # A pointer when optional, so that an empty list (`[]`, which may mean "none") is not
        # taken for an absent one.
        return ("*" if optional else "") + (f"[]{inner}" if kind == "array" else f"map[string]{inner}")
    base = {"string": "string", "integer": "int64", "number": "float64", "boolean": "bool", "enum": "string"}.get(kind)
    if kind == "integer" and t[1] == "int32":
        base = "int32"
    if kind == "ref":
        base = models[t[1]][3]  # the Go name
    return ("*" if optional else "") + base


def go_models(models, variants, reserved, header):
    # Go names: a schema's name unless it is one of the package's hand-written identifiers.
    gm = {}
    taken = set(reserved)
    for name in models:
        gname = go_name(name)
        while gname in taken:
            gname += "Model"
        taken.add(gname)
        gm[name] = models[name] + (gname,) if len(models[name]) == 3 else models[name]
    lines = [
        f"// Code generated by sdks/codegen.py from docs/openapi.json. DO NOT EDIT.",
        "",
        "package sanhu",
        "",
        "// The API's models, one per component schema of the OpenAPI document, for encoding/json. An",
        "// optional or nullable field is a pointer (nil: absent or null; a pointer to an empty slice is",
        "// sent as []), optional fields are omitted when nil; a required nullable list or map is nil",
        "// for null. Amounts are int64 in minor units; enums are strings (a schema of its own is a",
        "// named string type with a constant per value).",
        "",
    ]
    consts = []
    for name, model in gm.items():
        kind, description, body, gname = model
        if kind == "enum":
            lines.append(f"// {gname}: {doc(description, 200) or 'one of the constants below.'}")
            lines.append(f"type {gname} string")
            lines.append("")
            lines.append("const (")
            for value in body:
                cname = gname + go_name(value)
                while cname in taken:
                    cname += "Value"
                taken.add(cname)
                lines.append(("\t", cname, gname, f"= {json_str(value)}"))
            lines.append(")")
            lines.append("")
            continue
        if kind == "alias":
            lines.append(f"// {gname}: {doc(description, 200) or 'a value of the API.'}")
            lines.append(f"type {gname} = {go_type(unalias(body, models), gm, False)}")
            lines.append("")
            continue
        text = doc(description, 200) or "a model of the API."
        if name in variants:
            text += " One of " + ", ".join(gm[v][3] for v in variants[name]) + ", in one struct."
        lines.append(f"// {gname}: {text}")
        lines.append(f"type {gname} struct {{")
        used = set()
        for fname, ftype, required, fdesc in body:
            ftype = unalias(ftype, models)
            field = go_name(fname)
            while field in used:
                field += "_"
            used.add(field)
            optional = not required or ftype[0] == "nullable"
            # A required struct is held by value, unless it would contain itself.
            gtype = go_type(ftype, gm, optional)
            if ftype[0] == "ref" and not optional and reaches_by_value(models, ftype[1], name):
                gtype = "*" + gtype
            tag = fname + ("" if required else ",omitempty")
            if fdesc:
                lines.append(f"\t// {doc(fdesc, 200)}")
            lines.append(("\t", field, gtype, f"`json:{json_str(tag)}`"))
        lines.append("}")
        lines.append("")
    return "\n".join(gofmt_align(lines))


def gofmt_align(lines):
    """Aligns runs of (indent, name, type, rest) rows as gofmt does; other lines end a run."""
    out, run = [], []

    def flush():
        if run:
            widths = [max(len(r[i]) for r in run) for i in (1, 2)]
            for indent, name, typ, rest in run:
                out.append(f"{indent}{name.ljust(widths[0])} {typ.ljust(widths[1])} {rest}")
            run.clear()

    for line in lines:
        if isinstance(line, tuple):
            run.append(line)
        else:
            flush()
            out.append(line)
    flush()
    return out


def reaches_by_value(models, start, target, seen=None):
    """Whether the struct `start` holds `target` by value, directly or through required fields."""
    seen = seen if seen is not None else set()
    if start == target:
        return True
    if start in seen:
        return False
    seen.add(start)
    model = models.get(start)
    if model is None or model[0] != "object":
        return False
    for _, ftype, required, _ in model[2]:
        ftype = unalias(ftype, models)
        if required and ftype[0] == "ref" and reaches_by_value(models, ftype[1], target, seen):
            return True
    return False


# -- Java --------------------------------------------------------------------------------------------

JAVA_KEYWORDS = {
    "abstract", "assert", "boolean", "break", "byte", "case", "catch", "char", "class", "const", "continue",
    "default", "do", "double", "else", "enum", "extends", "final", "finally", "float", "for", "goto", "if",
    "implements", "import", "instanceof", "int", "interface", "long", "native", "new", "package", "private",
    "protected", "public", "return", "short", "static", "strictfp", "super", "switch", "synchronized", "this",
    "throw", "throws", "transient", "try", "void", "volatile", "while", "true", "false", "null", "var",
    "record", "yield", "sealed", "permits", "_",
    # A record's own methods, and the models' own.
    "hashCode", "toString", "equals", "getClass", "notify", "notifyAll", "wait", "clone", "finalize",
    "toJson", "fromJson", "builder",
}
# Names a nested model must not take: the helpers of Models.java and the java.lang types it uses.
JAVA_TAKEN = {"Models", "JsonModel", "Codec", "Builder", "Object", "String", "Long", "Boolean", "Integer",
              "Number", "Override", "SuppressWarnings", "List", "Map", "BigDecimal", "LinkedHashMap",
              "ArrayList", "Function", "SanhuException", "Math", "System", "Iterable", "Class", "Record",
              "Deprecated", "Enum"}


def java_field(name):
    parts = [p for p in re.split(r"[^0-9A-Za-z]+", name) if p]
    out = (parts[0][:1].lower() + parts[0][1:] + "".join(p[:1].upper() + p[1:] for p in parts[1:])) if parts else "value"
    if out[0].isdigit():
        out = "v" + out
    return out + "_" if out in JAVA_KEYWORDS else out


def java_type(t, jm, primitive):
    """The Java type; a required, non-null integer or boolean is a primitive."""
    kind = t[0]
    if kind == "nullable":
        return java_type(t[1], jm, False)
    if kind in ("string", "enum"):
        return "String"
    if kind == "integer":
        return "long" if primitive else "Long"
    if kind == "number":
        return "BigDecimal"
    if kind == "boolean":
        return "boolean" if primitive else "Boolean"
    if kind == "ref":
        return jm[t[1]]
    if kind == "array":
        return f"List<{java_type(t[1], jm, False)}>"
    if kind == "map":
        return f"Map<String, {java_type(t[1], jm, False)}>"
    return "Object"


def java_decode(t, jm, expr, depth=0):
    kind = t[0]
    if kind == "nullable":
        return java_decode(t[1], jm, expr, depth)
    if kind in ("string", "enum"):
        return f"Codec.string({expr})"
    if kind == "integer":
        return f"Codec.integer({expr})"
    if kind == "number":
        return f"Codec.decimal({expr})"
    if kind == "boolean":
        return f"Codec.bool({expr})"
    if kind == "ref":
        return f"Codec.model({expr}, {jm[t[1]]}::fromJson)"
    if kind in ("array", "map"):
        var = "x" + str(depth)
        inner = java_decode(t[1], jm, var, depth + 1)
        return f"Codec.{'list' if kind == 'array' else 'map'}({expr}, {var} -> {inner})"
    return expr


def java_models(models, variants, header):
    jm, taken = {}, set(JAVA_TAKEN)
    for name in models:
        jname = pascal(name)
        while jname in taken:
            jname += "Model"
        taken.add(jname)
        jm[name] = jname
    out = [
        "package sanhu.client;",
        "",
        "import java.math.BigDecimal;",
        "import java.util.ArrayList;",
        "import java.util.LinkedHashMap;",
        "import java.util.List;",
        "import java.util.Map;",
        "import java.util.function.Function;",
        "",
        "/**",
        f" * {header}",
        " *",
        " * <p>The API's models, one record per object schema of the OpenAPI document, read from and written",
        " * to the {@link Json} values: {@code Payment.fromJson(json)}, {@code payment.toJson()}, and a",
        " * builder for requests ({@code PayRequest.builder().orderNumber(\"P1\").amount(2500).build()}).",
        " * Fields are the API's names in camelCase; a required integer or boolean is a primitive, an",
        " * optional or nullable one boxed (null: absent or null, and not sent when optional); amounts are",
        " * {@code long} minor units; enums are Strings (their values in the Javadoc). A oneOf of several",
        " * objects is one record with every field. Unknown fields of a newer server are ignored.",
        " */",
        "public final class Models {",
        "    private Models() {}",
        "",
        "    /** A model that writes itself as a {@link Json} object. */",
        "    public interface JsonModel {",
        "        Map<String, Object> toJson();",
        "    }",
        "",
        CODEC,
    ]
    for name, model in models.items():
        kind, description, body = model
        jname = jm[name]
        if kind == "enum":
            out.append(f"    /** {html(doc(description, 160) or name)}: one of {html(', '.join(body))}. */")
            out.append(f"    public static final List<String> {const_name(jname)} = List.of({', '.join(java_str(v) for v in body)});")
            out.append("")
            continue
        if kind == "alias":
            continue
        out += java_record(name, jname, model, jm, models, variants)
    out += ["}", ""]
    return "\n".join(out)


def enums_inline(t, models):
    """The type with references to enum schemas replaced by their values (Java's enums are Strings)."""
    kind = t[0]
    if kind == "ref" and models.get(t[1], ("",))[0] == "enum":
        return ("enum", models[t[1]][2])
    if kind in ("array", "map", "nullable"):
        return (kind, enums_inline(t[1], models))
    return t


def const_name(name):
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper() + "_VALUES"


def java_record(name, jname, model, jm, models, variants):
    _, description, fields = model
    comps, used = [], set()
    for fname, ftype, required, fdesc in fields:
        ftype = enums_inline(unalias(ftype, models), models)
        field = java_field(fname)
        while field in used:
            field += "_"
        used.add(field)
        primitive = required and ftype[0] in ("integer", "boolean")
        jtype = java_type(ftype, jm, primitive)
        values = ftype[1][1] if ftype[0] == "nullable" and ftype[1][0] == "enum" else (ftype[1] if ftype[0] == "enum" else None)
        comps.append((fname, field, jtype, ftype, required, primitive, fdesc, values))
    text = doc(description, 200) or f"{name}."
    if name in variants:
        text += " One of " + ", ".join(jm[v] for v in variants[name]) + ", in one record."
    lines = ["    /**", f"     * {html(text)}"]
    if comps:
        lines.append("     *")
    for fname, field, jtype, ftype, required, primitive, fdesc, values in comps:
        note = doc(fdesc, 160)
        if values:
            note = (note + " " if note else "") + "One of " + ", ".join(values) + "."
        extra = "" if required else " (optional)"
        lines.append(f"     * @param {field} {html(note) or html(fname)}{extra}")
    lines.append("     */")
    params = ", ".join(f"{c[2]} {c[1]}" for c in comps)
    lines.append(f"    public record {jname}({params}) implements JsonModel {{")
    lines.append(f"        /** Reads the model from a {{@link Json}} object. */")
    lines.append(f"        public static {jname} fromJson(Object json) {{")
    if comps:
        lines.append(f"            Map<String, Object> o = Codec.object(json, \"{jname}\");")
        args = []
        for fname, field, jtype, ftype, required, primitive, fdesc, values in comps:
            if primitive:
                args.append(f"Codec.{'requiredInteger' if ftype[0] == 'integer' else 'requiredBool'}(o, {java_str(fname)}, \"{jname}\")")
            else:
                args.append(java_decode(ftype, jm, f"o.get({java_str(fname)})"))
        lines.append(f"            return new {jname}(")
        for i, arg in enumerate(args):
            lines.append(f"                    {arg}{',' if i < len(args) - 1 else ');'}")
    else:
        lines.append(f"            Codec.object(json, \"{jname}\");")
        lines.append(f"            return new {jname}();")
    lines.append("        }")
    lines.append("")
    lines.append("        @Override")
    lines.append("        public Map<String, Object> toJson() {")
    lines.append("            Map<String, Object> o = new LinkedHashMap<>();")
    for fname, field, jtype, ftype, required, primitive, fdesc, values in comps:
        put = f"o.put({java_str(fname)}, Codec.toJson({field}));" if not primitive else f"o.put({java_str(fname)}, {field});"
        lines.append(f"            {put}" if required else f"            if ({field} != null) {put}")
    lines.append("            return o;")
    lines.append("        }")
    lines.append("")
    lines.append(f"        /** A builder: every field starts absent (null, or 0 and false). */")
    lines.append(f"        public static Builder builder() {{")
    lines.append(f"            return new Builder();")
    lines.append(f"        }}")
    lines.append("")
    lines.append(f"        /** Builds a {{@link {jname}}} field by field. */")
    lines.append(f"        public static final class Builder {{")
    for c in comps:
        lines.append(f"            private {c[2]} {c[1]};")
    if comps:
        lines.append("")
    lines.append("            private Builder() {}")
    for c in comps:
        lines.append("")
        lines.append(f"            public Builder {c[1]}({c[2]} {c[1]}) {{")
        lines.append(f"                this.{c[1]} = {c[1]};")
        lines.append(f"                return this;")
        lines.append(f"            }}")
        if c[2] == "Long":
            # So that .amount(100) compiles: an int literal widens to long but does not box to Long.
            lines.append("")
            lines.append(f"            public Builder {c[1]}(long {c[1]}) {{")
            lines.append(f"                this.{c[1]} = {c[1]};")
            lines.append(f"                return this;")
            lines.append(f"            }}")
    lines.append("")
    lines.append(f"            public {jname} build() {{")
    lines.append(f"                return new {jname}({', '.join(c[1] for c in comps)});")
    lines.append("            }")
    lines.append("        }")
    lines.append("    }")
    lines.append("")
    return lines


def java_str(value):
    """A Java string literal: JSON's escapes, except \\u, which javac reads before it reads strings."""
    return re.sub(
        r"(?<!\\)((?:\\\\)*)\\u00([0-7][0-9a-fA-F])",
        lambda m: m.group(1) + "\\" + format(int(m.group(2), 16), "03o"),
        json_str(value),
    )


def html(text):
    # javac reads a backslash-u anywhere, comments included.
    return text.replace("&", "&amp;").replace("\\", "&#92;").replace("*/", "*&#47;").replace("<", "&lt;").replace(">", "&gt;").replace("@", "&#64;").replace("{", "&#123;")


CODEC = '''    /** Reading and writing the {@link Json} values of the models. */
    static final class Codec {
        private Codec() {}

        @SuppressWarnings("unchecked")
        static Map<String, Object> object(Object json, String model) {
            if (!(json instanceof Map<?, ?>)) throw new SanhuException(model + " is read from a JSON object, not " + json);
            return (Map<String, Object>) json;
        }

        static String string(Object value) {
            if (value == null || value instanceof String) return (String) value;
            throw new SanhuException("a JSON string was expected, not " + value);
        }

        static Long integer(Object value) {
            if (value == null) return null;
            if (value instanceof Long l) return l;
            if (value instanceof Number n) return new BigDecimal(n.toString()).longValueExact();
            throw new SanhuException("a JSON integer was expected, not " + value);
        }

        static BigDecimal decimal(Object value) {
            if (value == null || value instanceof BigDecimal) return (BigDecimal) value;
            if (value instanceof Number n) return new BigDecimal(n.toString());
            throw new SanhuException("a JSON number was expected, not " + value);
        }

        static Boolean bool(Object value) {
            if (value == null || value instanceof Boolean) return (Boolean) value;
            throw new SanhuException("a JSON boolean was expected, not " + value);
        }

        static long requiredInteger(Map<String, Object> o, String name, String model) {
            Long value = integer(o.get(name));
            if (value == null) throw new SanhuException(model + " has no " + name);
            return value;
        }

        static boolean requiredBool(Map<String, Object> o, String name, String model) {
            Boolean value = bool(o.get(name));
            if (value == null) throw new SanhuException(model + " has no " + name);
            return value;
        }

        static <T> T model(Object value, Function<Object, T> read) {
            return value == null ? null : read.apply(value);
        }

        static <T> List<T> list(Object value, Function<Object, T> read) {
            if (value == null) return null;
            if (!(value instanceof List<?> items)) throw new SanhuException("a JSON array was expected, not " + value);
            List<T> out = new ArrayList<>(items.size());
            for (Object item : items) out.add(read.apply(item));
            return out;
        }

        static <T> Map<String, T> map(Object value, Function<Object, T> read) {
            if (value == null) return null;
            Map<String, T> out = new LinkedHashMap<>();
            for (Map.Entry<String, Object> entry : object(value, "a map").entrySet()) out.put(entry.getKey(), read.apply(entry.getValue()));
            return out;
        }

        /** A model's field as a Json value: models as their objects, lists and maps item by item. */
        static Object toJson(Object value) {
            if (value instanceof JsonModel model) return model.toJson();
            if (value instanceof List<?> items) {
                List<Object> out = new ArrayList<>(items.size());
                for (Object item : items) out.add(toJson(item));
                return out;
            }
            if (value instanceof Map<?, ?> map) {
                Map<Object, Object> out = new LinkedHashMap<>();
                for (Map.Entry<?, ?> entry : map.entrySet()) out.put(entry.getKey(), toJson(entry.getValue()));
                return out;
            }
            return value;
        }
    }
'''
