#!/usr/bin/python3
"""Builds a Deno notebook from a plain-text outline (dev helper).

Outline format: cells separated by lines '%% md', '%% code' or
'%% code figure=N' (a cell that must produce N image/png outputs).
"""
import json
import sys


def build(outline):
    cells = []
    for block in outline.split("\n%% ")[1:]:
        header, _, body = block.partition("\n")
        kind, *opts = header.split()
        body = body.rstrip("\n")
        meta = {}
        for opt in opts:
            key, _, value = opt.partition("=")
            if key == "figure":
                meta = {"tags": ["figure"], "convscope": {"figures": int(value)}}
        source = [line + "\n" for line in body.split("\n")]
        source[-1] = source[-1].rstrip("\n")
        if kind == "md":
            cells.append({"cell_type": "markdown", "metadata": {}, "source": source})
        else:
            cells.append({"cell_type": "code", "execution_count": None, "metadata": meta, "outputs": [], "source": source})
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Deno", "language": "typescript", "name": "deno"},
            "language_info": {"codemirror_mode": "typescript", "file_extension": ".ts", "mimetype": "text/x.typescript",
                              "name": "typescript", "nbconvert_exporter": "script", "pygments_lexer": "typescript"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


if __name__ == "__main__":
    src, dst = sys.argv[1], sys.argv[2]
    nb = build("\n" + open(src, encoding="utf-8").read())
    for i, c in enumerate(nb["cells"]):
        c["id"] = f"cell-{i:02d}"
    with open(dst, "w", encoding="utf-8") as f:
        json.dump(nb, f, indent=1, ensure_ascii=False)
        f.write("\n")
