"""Pull figures and text out of instrument PDF reports and assemble a Word summary."""

import io
import sys
from pathlib import Path

import fitz
from docx import Document
from docx.shared import Inches, Pt
from PIL import Image


def first_figure(pdf: fitz.Document) -> bytes | None:
    for page in pdf:
        for xref, *_ in page.get_images(full=True):
            pix = fitz.Pixmap(pdf, xref)
            if pix.width > 300:
                img = Image.open(io.BytesIO(pix.tobytes("png")))
                buf = io.BytesIO()
                img.convert("RGB").save(buf, format="PNG")
                return buf.getvalue()
    return None


def build(pdf_paths: list[Path], out: Path) -> None:
    doc = Document()
    doc.styles["Normal"].font.size = Pt(10)
    doc.add_heading("Instrument run summary", level=0)
    for path in pdf_paths:
        with fitz.open(path) as pdf:
            doc.add_heading(path.stem, level=1)
            summary = pdf[0].get_text().strip().splitlines()[:8]
            doc.add_paragraph("\n".join(summary))
            figure = first_figure(pdf)
            if figure:
                doc.add_picture(io.BytesIO(figure), width=Inches(5.5))
    doc.save(out)


if __name__ == "__main__":
    build([Path(p) for p in sys.argv[1:]], Path("summary.docx"))
