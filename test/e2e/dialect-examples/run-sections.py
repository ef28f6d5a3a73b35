"""Runs the "# === <title>" sections of a file of documentation examples one after another in one namespace, as a
reader pasting them into one interpreter would, and prints what each section's request got as a JSON line:
{"section", "status", "body"}; a section that sends nothing prints {"section"} alone."""

import json
import sys

path = sys.argv[1]
with open(path, encoding="utf-8") as f:
    source = f.read()
namespace = {"__name__": "examples"}
for chunk in source.split("\n# === ")[1:]:
    title, _, code = chunk.partition("\n")
    namespace.pop("response", None)
    exec(compile(code, f"{path} ({title})", "exec"), namespace)
    response = namespace.get("response")
    if response is None:
        print(json.dumps({"section": title}), flush=True)
    else:
        print(json.dumps({"section": title, "status": response.status_code, "body": response.json()}), flush=True)
