"""Extract every Nth frame of a video, detect blur, and save thumbnails with a caption."""

import argparse
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont


def sharpness(frame: np.ndarray) -> float:
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def caption(frame: np.ndarray, text: str) -> Image.Image:
    img = Image.fromarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    img.thumbnail((480, 480))
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, img.height - 22, img.width, img.height], fill=(0, 0, 0))
    draw.text((6, img.height - 19), text, fill=(255, 255, 255), font=ImageFont.load_default())
    return img


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("video")
    ap.add_argument("--every", type=int, default=30)
    ap.add_argument("--min-sharpness", type=float, default=50.0)
    ap.add_argument("--out", type=Path, default=Path("frames"))
    args = ap.parse_args()

    args.out.mkdir(exist_ok=True)
    cap = cv2.VideoCapture(args.video)
    index = kept = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if index % args.every == 0:
            score = sharpness(frame)
            if score >= args.min_sharpness:
                caption(frame, f"frame {index}  sharpness {score:.0f}").save(args.out / f"{index:06d}.jpg")
                kept += 1
        index += 1
    cap.release()
    print(f"kept {kept} of {index // args.every + 1} sampled frames")


if __name__ == "__main__":
    main()
