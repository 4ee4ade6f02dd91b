"""Call a Fluent Bit Lua filter function in a real LuaJIT (the Lua that Fluent Bit embeds), without Fluent Bit.

``call_filter`` does what the lua filter does with ``script`` and ``call``: it runs the script once in a fresh
state with the standard libraries, then calls the function per record as ``fn(tag, timestamp, record)``,
expecting ``code, timestamp, record`` back. Records go in as Lua table literals written here (LuaJIT has no
JSON library); the driver returns each result as a line of JSON from its own small encoder (Lua cannot tell
an empty list from an empty map: both come back as ``{}``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LUAJIT_MISSING = "luajit not on PATH: apt-get install luajit; .ci/run installs it"

# arg[1] script, arg[2] function name, arg[3] a Lua file returning {{tag, timestamp, record}, ...}.
DRIVER = r"""
local script, name, calls_file = arg[1], arg[2], arg[3]
dofile(script)
local fn = _G[name]
if type(fn) ~= "function" then
  io.stderr:write("the script defines no function " .. name .. "\n")
  os.exit(3)
end

local escapes = {['"'] = '\\"', ['\\'] = '\\\\', ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t'}
local encode

local function is_array(t)
  local n = 0
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or k % 1 ~= 0 then return false end
    n = n + 1
  end
  for i = 1, n do
    if t[i] == nil then return false end
  end
  return n > 0
end

function encode(v)
  local t = type(v)
  if v == nil then return "null"
  elseif t == "boolean" then return tostring(v)
  elseif t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then error("cannot encode " .. tostring(v)) end
    if v % 1 == 0 and math.abs(v) < 2^53 then return string.format("%d", v) end
    return string.format("%.17g", v)
  elseif t == "string" then
    return '"' .. v:gsub('[%c"\\]', function(c) return escapes[c] or string.format("\\u%04x", c:byte()) end) .. '"'
  elseif t == "table" then
    local parts = {}
    if is_array(v) then
      for _, item in ipairs(v) do parts[#parts + 1] = encode(item) end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    for k, item in pairs(v) do parts[#parts + 1] = encode(tostring(k)) .. ":" .. encode(item) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  error("cannot encode a " .. t)
end

local function pack(...) return {n = select("#", ...), ...} end

for _, call in ipairs(dofile(calls_file)) do
  local r = pack(pcall(fn, call[1], call[2], call[3]))
  if not r[1] then
    io.stderr:write("the function raised: " .. tostring(r[2]) .. "\n")
    os.exit(4)
  end
  io.write(encode({values = r.n - 1, code = r[2], timestamp = r[3], record = r[4]}), "\n")
end
"""


@dataclass(frozen=True)
class FilterResult:
    values: int  # how many values the function returned (the contract: 3)
    code: int | None
    timestamp: float | None
    record: Any


def luajit() -> str | None:
    return shutil.which("luajit")


def lua_literal(value: Any) -> str:
    """A Lua expression for a JSON-like Python value (None is nil: the key is absent in Lua)."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        # Every byte that is not plain printable ASCII as a three-digit \ddd escape (Lua 5.1's only form).
        return '"' + "".join(chr(b) if 32 <= b < 127 and chr(b) not in '"\\' else f"\\{b:03d}"
                             for b in value.encode()) + '"'
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"[{lua_literal(str(k))}] = {lua_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "{" + ", ".join(lua_literal(v) for v in value) + "}"
    raise TypeError(f"no Lua literal for {type(value).__name__}")


def call_filter(script: str, function: str, calls: Sequence[tuple[str, float, Mapping[str, Any]]],
                env: Mapping[str, str] | None = None) -> list[FilterResult]:
    """``function`` of the Lua ``script`` (its text) called on each (tag, timestamp, record), in one LuaJIT
    process whose environment is only PATH and ``env`` (Fluent Bit's script reads e.g. NODE_NAME)."""
    binary = luajit()
    if binary is None:
        raise RuntimeError(LUAJIT_MISSING)
    with tempfile.TemporaryDirectory(prefix="kubelogs-lua-") as tmp:
        paths = {name: Path(tmp) / name for name in ("driver.lua", "filter.lua", "calls.lua")}
        paths["driver.lua"].write_text(DRIVER)
        paths["filter.lua"].write_text(script)
        paths["calls.lua"].write_text("return " + lua_literal([list(call) for call in calls]) + "\n")
        done = subprocess.run([binary, str(paths["driver.lua"]), str(paths["filter.lua"]), function,
                               str(paths["calls.lua"])], capture_output=True, text=True, timeout=30,
                              env={"PATH": os.environ.get("PATH", ""), **(env or {})})
    if done.returncode != 0:
        raise AssertionError(f"luajit exited {done.returncode}: {done.stderr.strip()}")
    results = [json.loads(line) for line in done.stdout.splitlines()]
    return [FilterResult(r["values"], r.get("code"), r.get("timestamp"), r.get("record")) for r in results]
