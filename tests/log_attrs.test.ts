import assert from "node:assert/strict";
import { expandTag, extraAttributes } from "../src/log_attrs.ts";
import { parseJsonFileOptions } from "../src/json_file_options.ts";

const info = {
  id: "0123456789abcdef0123",
  namespace: "k8s.io",
  labels: { app: "web", "com.example.tier": "front", other: "x" },
  env: { APP_ENV: "prod", APP_ID: "7", HOME: "/root" },
};

Deno.test("expandTag() knows Docker's {{.ID}} (12 characters), {{.FullID}} and {{.Name}}", () => {
  assert.equal(
    expandTag("{{.Name}}/{{ .ID }}/{{.FullID}}", info),
    "0123456789abcdef0123/0123456789ab/0123456789abcdef0123",
  );
  assert.throws(() => expandTag("{{.ImageName}}", info), {
    name: "RangeError",
    message: /"\{\{\.ImageName\}\}".*\{\{\.ID\}\}/,
  });
  // An action left open is refused, as Go's text/template refuses it; a
  // lone "}}" is text there.
  for (const open of ["{{.ID}", "web-{{.ID}}-{{", "{{"]) {
    assert.throws(() => expandTag(open, info), {
      name: "RangeError",
      message: new RegExp(
        `^Invalid tag "${
          open.replace(/[{}.]/g, "\\$&")
        }": "\\{\\{" without a closing "\\}\\}"`,
      ),
    });
  }
  assert.equal(expandTag("a}}b", info), "a}}b");
});

Deno.test("extraAttributes() copies the labels and env asked for, by name and by pattern, and the tag", () => {
  const options = parseJsonFileOptions({
    labels: "app,missing",
    "labels-regex": "^com\\.example\\.",
    env: "HOME",
    "env-regex": "^APP_",
    tag: "{{.ID}}",
  });
  assert.deepEqual(extraAttributes(options, info), {
    app: "web",
    "com.example.tier": "front",
    HOME: "/root",
    APP_ENV: "prod",
    APP_ID: "7",
    tag: "0123456789ab",
  });
  assert.deepEqual(extraAttributes(parseJsonFileOptions({}), info), {});
});
