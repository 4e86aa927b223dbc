#!/usr/bin/env python3
"""An existing script, unchanged by Vigil: loudness of a 16-bit PCM WAV file, one value per second.

    python3 loudness.py track.wav      # analyse a file
    python3 loudness.py --tone 5       # no file at hand: analyse a generated 5 s test tone

It prints progress as it goes (Vigil stores every line in the job's log, and `silence` notices if it stops
printing) and its result as JSON on the last line (the task uses result: 'last-line').
"""
import array
import json
import math
import sys
import wave


def tone(seconds, rate=22050):
    samples = array.array("h")
    for i in range(int(seconds * rate)):
        t = i / rate
        # Louder every second, so the result is easy to check by eye.
        amp = 0.1 + 0.8 * (int(t) + 1) / (seconds + 1)
        samples.append(int(32767 * amp * math.sin(2 * math.pi * 440 * t)))
    return samples, rate, 1


def read_wav(path):
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2:
            print(f"{path}: only 16-bit PCM is supported", file=sys.stderr)
            sys.exit(2)
        frames = w.readframes(w.getnframes())
        samples = array.array("h")
        samples.frombytes(frames)
        return samples, w.getframerate(), w.getnchannels()


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--tone":
        samples, rate, channels = tone(float(sys.argv[2]))
        source = f"{sys.argv[2]} s test tone"
    elif len(sys.argv) == 2:
        samples, rate, channels = read_wav(sys.argv[1])
        source = sys.argv[1]
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    per_second = rate * channels
    seconds = []
    for start in range(0, len(samples), per_second):
        block = samples[start : start + per_second]
        rms = math.sqrt(sum(s * s for s in block) / max(1, len(block))) / 32768
        seconds.append(round(20 * math.log10(rms), 1) if rms > 0 else -120.0)
        print(f"second {len(seconds)}: {seconds[-1]} dBFS", flush=True)
    loudest = max(range(len(seconds)), key=lambda i: seconds[i]) if seconds else None
    print(json.dumps({"source": source, "seconds": len(seconds), "dbfs": seconds, "loudestSecond": loudest}))


if __name__ == "__main__":
    main()
