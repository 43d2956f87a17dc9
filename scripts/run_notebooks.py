#!/usr/bin/python3
"""Executes notebooks through Deno's real Jupyter kernel without losing outputs.

Deno 2.9's kernel can report a cell "idle" before the cell's last outputs have
left its queues, and it stamps each output with the parent header of the last
request it *received*, not of the cell that produced it. So the tail of a
cell's outputs goes out labelled as the next cell's (or comes after nbclient
stopped listening) and plain nbclient drops it (3-8 % of outputs in
output-heavy notebooks).

After every code cell this runner sends a marker request whose own outputs (a
display message and a stdout line carrying a token) travel the same FIFO queues
as the cell's. Everything that arrives before both markers, whether labelled
with the cell's or the marker's header, is the cell's; once both markers are in,
nothing of the cell can still be queued.

Usage: run_notebooks.py [--out DIR] [--html] [--timeout S] NOTEBOOK...
Writes DIR/<name>.ipynb (executed) and, with --html, DIR/<name>.html.
Exit status 1 names the notebook and cell that failed.
"""
import argparse
import asyncio
import os
import pathlib
import sys
import time
import uuid

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

OUTPUT_TYPES = {"stream", "display_data", "execute_result", "error", "update_display_data", "clear_output"}


class FlushingClient(NotebookClient):
    """An nbclient that waits for a per-cell marker before moving on."""

    marker_timeout = 60

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        self._cell_msg_id = None
        result = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        if cell.cell_type == "code" and self._cell_msg_id is not None:
            await self._collect_late_outputs(cell, cell_index, self._cell_msg_id)
        return result

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        original = kc.execute

        def execute(*args, **kwargs):
            msg_id = original(*args, **kwargs)
            if getattr(self, "_recording", True):
                self._cell_msg_id = msg_id
            return msg_id

        kc.execute = execute
        return kc

    async def _collect_late_outputs(self, cell, cell_index, cell_msg_id):
        token = f"convscope-flush-{uuid.uuid4().hex}"
        code = (
            f'Deno.jupyter.broadcast("display_data", {{ data: {{ "text/plain": "{token}" }}, metadata: {{}}, transient: {{}} }});\n'
            f'console.log("{token}");'
        )
        self._recording = False
        try:
            marker_id = self.kc.execute(code, silent=False, store_history=False)
        finally:
            self._recording = True
        seen_display = seen_stream = seen_idle = False
        deadline = time.monotonic() + self.marker_timeout
        while not (seen_display and seen_stream and seen_idle):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(
                    f"kernel did not echo the output marker within {self.marker_timeout}s after cell {cell_index}"
                )
            try:
                msg = await self.kc.get_iopub_msg(timeout=remaining)
            except Exception:  # queue.Empty
                continue
            parent = msg.get("parent_header", {}).get("msg_id")
            kind = msg["msg_type"]
            content = msg.get("content", {})
            if parent == marker_id and kind == "status":
                seen_idle = seen_idle or content.get("execution_state") == "idle"
                continue
            if parent not in (cell_msg_id, marker_id) or kind not in OUTPUT_TYPES:
                continue
            if parent == marker_id and kind == "display_data" and content.get("data", {}).get("text/plain") == token:
                seen_display = True
                continue
            if parent == marker_id and kind == "stream" and token in content.get("text", ""):
                seen_stream = True
                # The marker's line may share a message with the cell's last output lines.
                rest = "".join(line for line in content["text"].splitlines(keepends=True) if token not in line)
                if not rest:
                    continue
                content["text"] = rest
            self.late_outputs = getattr(self, "late_outputs", 0) + 1
            self.process_message(msg, cell, cell_index)
        # Drain the marker request's shell reply so it is not taken for a cell's.
        try:
            await self.kc.get_shell_msg(timeout=self.marker_timeout)
        except Exception:
            pass


def coalesce_streams(nb):
    """Joins consecutive stdout/stderr pieces of a cell, as Jupyter frontends show them."""
    for cell in nb.cells:
        merged = []
        for out in cell.get("outputs", []):
            if (out.get("output_type") == "stream" and merged and merged[-1].get("output_type") == "stream"
                    and merged[-1].get("name") == out.get("name")):
                merged[-1]["text"] += out["text"]
            else:
                merged.append(out)
        if "outputs" in cell:
            cell["outputs"] = merged


def export_html(nb, path):
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    # nbconvert prefers SVG and its sanitiser blanks SVG outputs; every convscope
    # figure carries a PNG, so put PNG first.
    config = Config()
    config.NbConvertBase.display_data_priority = [
        "text/html", "application/pdf", "text/latex", "image/png", "image/jpeg", "image/svg+xml",
        "text/markdown", "text/plain",
    ]
    exporter = HTMLExporter(config=config)
    body, _ = exporter.from_notebook_node(nb)
    path.write_text(body, encoding="utf-8")


def run(path, out_dir, html, timeout, plain):
    nb = nbformat.read(path, as_version=4)
    cls = NotebookClient if plain else FlushingClient
    client = cls(
        nb,
        kernel_name="deno",
        timeout=timeout,
        resources={"metadata": {"path": str(path.parent)}},
    )
    started = time.monotonic()
    failed = None
    try:
        client.execute()
    except CellExecutionError as error:
        failed = error
    coalesce_streams(nb)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / path.name
    nbformat.write(nb, target)
    if html:
        export_html(nb, target.with_suffix(".html"))
    late = getattr(client, "late_outputs", 0)
    print(f"{path.name}: {time.monotonic() - started:.1f} s, {late} late output(s) recovered -> {target}", flush=True)
    if failed is not None:
        index = next((i for i, c in enumerate(nb.cells) if any(o.get("output_type") == "error" for o in c.get("outputs", []))), "?")
        print(f"FAILED: {path} cell {index}:\n{failed}", file=sys.stderr, flush=True)
        return False
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=pathlib.Path)
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("out/notebooks"))
    parser.add_argument("--html", action="store_true")
    parser.add_argument("--timeout", type=int, default=1800)
    parser.add_argument("--plain", action="store_true", help="plain nbclient, for comparison")
    args = parser.parse_args()
    os.environ.setdefault("NO_COLOR", "1")
    ok = all([run(p.resolve(), args.out.resolve(), args.html, args.timeout, args.plain) for p in args.notebooks])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
