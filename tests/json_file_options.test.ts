import assert from "node:assert/strict";
import { parseJsonFileOptions } from "../src/json_file_options.ts";
import { parseDockerSize, parseGoBool } from "../src/size.ts";

Deno.test("parseDockerSize() reads Docker's decimal units: 1k = 1,000 and 10m = 10,000,000 bytes", () => {
  assert.equal(parseDockerSize("1k"), 1000);
  assert.equal(parseDockerSize("1.5k"), 1500);
  assert.equal(parseDockerSize("10m"), 10_000_000);
  assert.equal(parseDockerSize("10MB"), 10_000_000);
  assert.equal(parseDockerSize("2g"), 2_000_000_000);
  assert.equal(parseDockerSize("100"), 100);
});

Deno.test("parseDockerSize() refuses text that is not a size, naming it", () => {
  assert.throws(() => parseDockerSize("10x"), {
    name: "SyntaxError",
    message: /"10x".*k, m, g, t or p/,
  });
  assert.throws(() => parseDockerSize("-1k"), SyntaxError);
  assert.throws(() => parseDockerSize(""), SyntaxError);
});

Deno.test("parseGoBool() accepts Go's strconv.ParseBool forms only", () => {
  for (const t of ["1", "t", "T", "TRUE", "true", "True"]) {
    assert.equal(parseGoBool(t), true);
  }
  for (const f of ["0", "f", "F", "FALSE", "false", "False"]) {
    assert.equal(parseGoBool(f), false);
  }
  assert.throws(() => parseGoBool("yes"), /"yes".*true/);
});

Deno.test("parseJsonFileOptions() defaults to no rotation, one file, no compression", () => {
  const o = parseJsonFileOptions({});
  assert.equal(o.maxSize, Infinity);
  assert.equal(o.maxFile, 1);
  assert.equal(o.compress, false);
});

Deno.test("parseJsonFileOptions() refuses an unknown key, listing the valid ones", () => {
  assert.throws(() => parseJsonFileOptions({ "max-sise": "1m" }), {
    name: "RangeError",
    message: /"max-sise".*compress, env, env-regex.*max-size/,
  });
});

Deno.test("parseJsonFileOptions() refuses max-size of 0 and max-file below 1, as Docker", () => {
  assert.throws(() => parseJsonFileOptions({ "max-size": "0" }), /positive/);
  assert.throws(
    () => parseJsonFileOptions({ "max-file": "0" }),
    /"0".*1 or more/,
  );
  assert.throws(() => parseJsonFileOptions({ "max-file": "two" }), SyntaxError);
  // Go's Atoi: a 64-bit int; a leading + is Go's too.
  assert.throws(
    () => parseJsonFileOptions({ "max-file": "99999999999999999999" }),
    /Invalid max-file "99999999999999999999": value out of range/,
  );
  assert.equal(
    parseJsonFileOptions({ "max-file": "9223372036854775807" }).maxFile,
    9223372036854775807,
  );
  assert.equal(parseJsonFileOptions({ "max-file": "+3" }).maxFile, 3);
});

Deno.test("parseJsonFileOptions() allows compress only with max-size and max-file of 2 or more", () => {
  assert.throws(
    () => parseJsonFileOptions({ compress: "true", "max-size": "1m" }),
    /compress needs max-size and max-file of 2 or more/,
  );
  assert.throws(
    () => parseJsonFileOptions({ compress: "1", "max-file": "3" }),
    /compress needs/,
  );
  const o = parseJsonFileOptions({
    compress: "t",
    "max-size": "1m",
    "max-file": "2",
  });
  assert.equal(o.compress, true);
  assert.equal(
    parseJsonFileOptions({ compress: "false" }).compress,
    false,
  );
  // A value Go's strconv.ParseBool refuses, named as compress.
  assert.throws(
    () => parseJsonFileOptions({ compress: "yes" }),
    new SyntaxError(
      'Cannot parse compress "yes": expected one of 1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False',
    ),
  );
});

Deno.test("parseJsonFileOptions() wants an absolute log-path and valid patterns", () => {
  assert.throws(
    () => parseJsonFileOptions({ "log-path": "x.log" }),
    /absolute/,
  );
  assert.throws(
    () => parseJsonFileOptions({ "env-regex": "(" }),
    /Cannot parse env-regex "\("/,
  );
});

Deno.test("parseDockerSize() refuses a size too large to count in bytes", () => {
  assert.throws(() => parseDockerSize("99999999999999999999999p"), {
    name: "RangeError",
    message: /"99999999999999999999999p": larger than/,
  });
});
