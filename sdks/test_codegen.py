#!/usr/bin/env python3
"""The model generator on a document of every schema shape it must take (oneOf, allOf, nullable in
both spellings, additionalProperties, arrays, refs, a recursive schema, an alias, keywords and
names the SDKs already use), without a server:

    python3 sdks/test_codegen.py       # sdks/test.sh runs it

It checks that the output is deterministic, that the Python models import and read and write JSON,
and compiles the other three where their tools are found: Go (SANHU_TEST_GO or `go`), TypeScript
(sdks/typescript/node_modules, after `npm ci`) and Java (`javac`). A tool that is missing is
reported as skipped, never passed.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import codegen  # noqa: E402
import codegen_models  # noqa: E402

REF = "#/components/schemas/"
DOCUMENT = {
    "openapi": "3.1.0",
    "components": {
        "schemas": {
            "Status": {"type": "string", "enum": ["open", "closed"], "description": "A status."},
            "Odd": {"type": "string", "enum": ["back\\u0041slash", "ctl\u0001", "*/"], "description": "C:\\users\\u0041 */"},
            "Node": {
                "type": "object",
                "description": "A tree: refers to itself, a \\ and a \"quote\"",
                "required": ["id", "children", "parent"],
                "properties": {
                    "id": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": REF + "Node"}},
                    "parent": {"oneOf": [{"$ref": REF + "Node"}, {"type": "null"}]},
                    "first": {"$ref": REF + "Node"},
                },
            },
            "Everything": {
                "type": "object",
                "required": ["amount", "flag", "status", "tags", "self"],
                "properties": {
                    "amount": {"type": "integer", "format": "int64"},
                    "rate": {"type": "number"},
                    "flag": {"type": "boolean"},
                    "maybe": {"type": ["integer", "null"]},
                    "old_nullable": {"type": "string", "nullable": True},
                    "status": {"$ref": REF + "Status"},
                    "inline_enum": {"type": "string", "enum": ["a", "b-c", "3d"]},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "matrix": {"type": "array", "items": {"type": "array", "items": {"type": ["integer", "null"]}}},
                    "metadata": {"type": "object", "additionalProperties": True},
                    "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                    "nodes_by_name": {"type": "object", "additionalProperties": {"$ref": REF + "Node"}},
                    "inline": {
                        "type": "object",
                        "properties": {"x": {"type": "integer"}, "deeper": {"type": "object", "properties": {"y": {"type": "string"}}}},
                        "required": ["x"],
                    },
                    "inline_list": {"type": "array", "items": {"type": "object", "properties": {"z": {"type": "boolean"}}}},
                    "mixed": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                    "anything": {},
                    "self": {"type": "string", "description": "A keyword in Python and Java's receiver in Go."},
                    "class": {"type": "string"},
                    "from": {"type": "string"},
                    "type": {"type": "string"},
                    "default": {"type": ["boolean", "null"]},
                    "to_json": {"type": "string"},
                    "hash-code": {"type": "string"},
                    "with space": {"type": "string"},
                    "const_value": {"const": "fixed"},
                    "aliased": {"$ref": REF + "Names"},
                    "when": {"type": "string", "format": "date-time", "description": "Has a */ and \"\"\" and a | table | here."},
                },
            },
            "Names": {"type": "array", "items": {"type": "string"}, "description": "An alias of a list."},
            "Shape": {
                "description": "A oneOf of objects with a discriminator.",
                "oneOf": [
                    {"type": "object", "required": ["kind", "radius"], "properties": {"kind": {"enum": ["circle"], "type": "string"}, "radius": {"type": "integer"}}},
                    {"type": "object", "required": ["kind", "side"], "properties": {"kind": {"enum": ["square"], "type": "string"}, "side": {"type": "integer"}}},
                    {"$ref": REF + "Node"},
                ],
            },
            "Merged": {
                "allOf": [
                    {"$ref": REF + "Node"},
                    {"type": "object", "required": ["extra"], "properties": {"extra": {"type": "string"}}},
                    {"oneOf": [{"required": ["extra"]}, {"required": ["id"]}]},
                ],
            },
            "Empty": {"type": "object", "additionalProperties": False},
            "Free": {"type": "object", "additionalProperties": {"type": "string"}},
            # Names the SDKs' own code already uses.
            "Client": {"type": "object", "properties": {"url": {"type": "string"}}},
            "ErrorCode": {"type": "string", "enum": ["x_y"]},
            "Object": {"type": "object", "properties": {"o": {"type": "string"}}},
            "List": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": REF + "Object"}}}},
            "Builder": {"type": "object", "properties": {"b": {"type": "string"}}},
        }
    },
}


def render_all(document):
    models, variants = codegen_models.read_models(document)
    return {
        "python": codegen_models.python_models(models, variants, codegen.HEADER),
        "typescript": codegen_models.typescript_models(models, variants, codegen.HEADER),
        "go": codegen_models.go_models(models, variants, codegen.go_identifiers(), codegen.HEADER),
        "java": codegen_models.java_models(models, variants, codegen.HEADER),
    }


def go_tool():
    for candidate in (os.environ.get("SANHU_TEST_GO"), shutil.which("go")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


class TheGenerator(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.out = render_all(DOCUMENT)
        cls.tmp = Path(tempfile.mkdtemp(prefix="sanhu-codegen-"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_is_deterministic(self):
        # The same document, its keys in another order: the same text.
        shuffled = json.loads(json.dumps(DOCUMENT, sort_keys=True))
        shuffled["components"]["schemas"] = dict(reversed(list(shuffled["components"]["schemas"].items())))
        self.assertEqual(render_all(shuffled), self.out)
        self.assertEqual(render_all(DOCUMENT), self.out)

    def test_the_repository_files_are_up_to_date(self):
        result = subprocess.run([sys.executable, str(HERE / "codegen.py"), "--check"], capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_python_models_read_and_write(self):
        path = self.tmp / "generated_models.py"
        path.write_text(self.out["python"], encoding="utf-8")
        spec = importlib.util.spec_from_file_location("generated_models", path)
        m = importlib.util.module_from_spec(spec)
        sys.modules["generated_models"] = m  # dataclasses look their module up
        spec.loader.exec_module(m)
        data = {
            "amount": 5, "flag": True, "status": "open", "tags": ["t"], "self": "s", "class": "c", "from": "f",
            "metadata": {"k": [1, {"x": 2}]}, "counts": {"a": 1},
            "nodes_by_name": {"n": {"id": "n", "children": [], "parent": None}},
            "inline": {"x": 1, "deeper": {"y": "y"}}, "inline_list": [{"z": True}], "matrix": [[1, None]],
            "mixed": 3, "anything": [1, "two"], "hash-code": "h", "with space": "w", "aliased": ["a"],
        }
        everything = m.Everything.from_dict({**data, "unknown": "ignored"})
        self.assertEqual(everything.self_, "s")
        self.assertEqual(everything.class_, "c")
        self.assertEqual(everything.inline.deeper.y, "y")
        self.assertIsInstance(everything.nodes_by_name["n"], m.Node)
        self.assertEqual(everything.to_dict(), data)
        # Read as 0.1.0's dicts were: by JSON name.
        self.assertEqual((everything["self"], everything["inline"]["deeper"]["y"]), ("s", "y"))
        self.assertEqual((everything.get("rate"), everything.get("rate", 0), everything.get("nothing", 1)), (None, 0, 1))
        with self.assertRaises(KeyError):
            everything["nothing"]
        tree = m.Node.from_dict({"id": "a", "children": [{"id": "b", "children": [], "parent": None}], "parent": None})
        self.assertEqual(tree.children[0].id, "b")
        self.assertEqual(tree.to_dict()["parent"], None)  # required and nullable: sent as null
        shape = m.Shape.from_dict({"kind": "square", "side": 2})
        self.assertEqual((shape.kind, shape.side, shape.radius), ("square", 2, None))
        self.assertEqual(m.Merged.from_dict({"id": "i", "children": [], "parent": None, "extra": "e"}).extra, "e")
        self.assertEqual(m.Empty.from_dict({}).to_dict(), {})
        with self.assertRaises(TypeError):
            m.Node.from_dict(["not", "an", "object"])

    def test_go_models_compile(self):
        go = go_tool()
        if go is None:
            self.skipTest("no Go")
        module = self.tmp / "go"
        module.mkdir()
        (module / "go.mod").write_text("module example\n\ngo 1.18\n", encoding="utf-8")
        (module / "models.go").write_text(self.out["go"], encoding="utf-8")
        (module / "models_test.go").write_text(GO_TEST, encoding="utf-8")
        env = {**os.environ, "GOTOOLCHAIN": "local", "GOPROXY": "off", "GOFLAGS": "-mod=mod"}
        result = subprocess.run([go, "vet", "./..."], cwd=module, capture_output=True, text=True, env=env)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        result = subprocess.run([go, "test", "./..."], cwd=module, capture_output=True, text=True, env=env)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        gofmt = Path(subprocess.run([go, "env", "GOROOT"], capture_output=True, text=True, env=env).stdout.strip()) / "bin" / "gofmt"
        result = subprocess.run([str(gofmt), "-l", "."], cwd=module, capture_output=True, text=True)
        self.assertEqual(result.stdout, "", "gofmt would change the generated file")

    def test_typescript_models_compile(self):
        tsc = HERE / "typescript" / "node_modules" / "typescript" / "bin" / "tsc"
        node = shutil.which("node")
        if not tsc.exists() or node is None:
            self.skipTest("no tsc (npm ci in sdks/typescript)")
        folder = self.tmp / "ts"
        folder.mkdir()
        (folder / "models.ts").write_text(self.out["typescript"], encoding="utf-8")
        (folder / "use.ts").write_text(TS_USE, encoding="utf-8")
        result = subprocess.run(
            [node, str(tsc), "--strict", "--noEmit", "--target", "ES2022", "--module", "NodeNext",
             "--moduleResolution", "NodeNext", str(folder / "models.ts"), str(folder / "use.ts")],
            capture_output=True, text=True,
        )
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def test_java_models_compile(self):
        javac = shutil.which("javac")
        if javac is None:
            self.skipTest("no javac")
        source = self.tmp / "java" / "sanhu" / "client"
        source.mkdir(parents=True)
        (source / "Models.java").write_text(self.out["java"], encoding="utf-8")
        main = HERE / "java" / "src" / "main" / "java" / "sanhu" / "client"
        for name in ("SanhuException.java", "Json.java"):
            shutil.copy(main / name, source / name)
        (source / "Use.java").write_text(JAVA_USE, encoding="utf-8")
        classes = self.tmp / "java-classes"
        result = subprocess.run(
            [javac, "--release", "17", "-Xlint:all,-serial", "-Werror", "-encoding", "UTF-8", "-d", str(classes),
             *[str(p) for p in sorted(source.glob("*.java"))]],
            capture_output=True, text=True,
        )
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        java = shutil.which("java")
        result = subprocess.run([java, "-cp", str(classes), "sanhu.client.Use"], capture_output=True, text=True)
        self.assertEqual((result.returncode, result.stdout.strip()), (0, "ok"), result.stderr)

    def test_names_the_sdks_use_are_left_to_them(self):
        self.assertIn("class ListModel(_Model):", self.out["python"])
        self.assertIn("export interface ObjectModel {", self.out["typescript"])
        self.assertIn("type ErrorCodeModel string", self.out["go"])
        self.assertIn("type ClientModel struct", self.out["go"])
        self.assertIn("public record ObjectModel(", self.out["java"])
        self.assertIn("public record ListModel(", self.out["java"])
        self.assertIn("public record BuilderModel(", self.out["java"])


GO_TEST = """package sanhu

import (
	"encoding/json"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	var e Everything
	in := `{"amount":5,"flag":true,"status":"open","tags":["t"],"self":"s","maybe":null,"inline":{"x":1},"mixed":"m"}`
	if err := json.Unmarshal([]byte(in), &e); err != nil {
		t.Fatal(err)
	}
	if e.Amount != 5 || e.Status != StatusOpen || e.Inline.X != 1 || e.Maybe != nil || e.Self != "s" {
		t.Fatalf("%+v", e)
	}
	var n Node
	if err := json.Unmarshal([]byte(`{"id":"a","children":[{"id":"b","children":[],"parent":null}],"parent":null}`), &n); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(n.Children[0])
	if string(out) != `{"children":[],"id":"b","parent":null}` {
		t.Fatal(string(out))
	}
	var s Shape
	_ = json.Unmarshal([]byte(`{"kind":"circle","radius":2}`), &s)
	if *s.Kind != "circle" || *s.Radius != 2 || s.Side != nil {
		t.Fatalf("%+v", s)
	}
	_ = ErrorCodeModelXY
	// An optional list: absent when nil, sent as [] when empty.
	out, _ = json.Marshal(Everything{Tags: []string{}})
	if string(out) != `{"amount":0,"flag":false,"self":"","status":"","tags":[]}` {
		t.Fatal(string(out))
	}
	out, _ = json.Marshal(Everything{Tags: []string{}, Matrix: &[][]*int64{}})
	if string(out) != `{"amount":0,"flag":false,"matrix":[],"self":"","status":"","tags":[]}` {
		t.Fatal(string(out))
	}
}
"""

TS_USE = """import type { Everything, Node, Shape, ShapeVariants, Empty, Free } from "./models.js";
const n: Node = { id: "a", children: [], parent: null };
const e: Everything = { amount: 1, flag: true, status: "open", tags: [], self: "s", inline: { x: 1 }, nodes_by_name: { a: n } };
const s: ShapeVariants = { kind: "circle", radius: 1 };
const merged: Shape = { kind: "square", side: 2 };
const empty: Empty = {};
const free: Free = { a: "b" };
export const all = [e, s, merged, empty, free];
"""

JAVA_USE = """package sanhu.client;

import java.util.List;
import java.util.Map;

public final class Use {
    public static void main(String[] args) {
        Object json = Json.parse("{\\"amount\\":5,\\"flag\\":true,\\"status\\":\\"open\\",\\"tags\\":[\\"t\\"],\\"self\\":\\"s\\","
                + "\\"class\\":\\"c\\",\\"maybe\\":null,\\"inline\\":{\\"x\\":1,\\"deeper\\":{\\"y\\":\\"y\\"}},\\"matrix\\":[[1,null]],"
                + "\\"nodes_by_name\\":{\\"n\\":{\\"id\\":\\"n\\",\\"children\\":[],\\"parent\\":null}},\\"unknown\\":1}");
        Models.Everything e = Models.Everything.fromJson(json);
        if (e.amount() != 5 || !e.flag() || !e.class_().equals("c") || e.inline().deeper().y() == null
                || e.nodesByName().get("n").children().size() != 0 || e.matrix().get(0).get(1) != null) {
            throw new AssertionError(e.toString());
        }
        Map<String, Object> back = e.toJson();
        if (back.containsKey("unknown") || back.containsKey("maybe") || !back.containsKey("self")) {
            throw new AssertionError(back.toString());
        }
        if (Models.Everything.builder().maybe(7).build().maybe() != 7L) throw new AssertionError("an int for a Long");
        Models.Node node = Models.Node.builder().id("a").children(List.of()).build();
        if (!Json.write(node).equals("{\\"children\\":[],\\"id\\":\\"a\\",\\"parent\\":null}")) throw new AssertionError(Json.write(node));
        Models.Shape shape = Models.Shape.fromJson(Json.parse("{\\"kind\\":\\"square\\",\\"side\\":2}"));
        if (shape.side() != 2 || shape.radius() != null) throw new AssertionError(shape.toString());
        if (!Models.STATUS_VALUES.equals(List.of("open", "closed"))) throw new AssertionError();
        System.out.println("ok");
    }
}
"""

if __name__ == "__main__":
    unittest.main(verbosity=2)
