import subprocess
import sys


def ensure(name):
    """Install ``name`` with this interpreter's pip."""
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", name])


try:
    import google.generativeai as genai
except ImportError:
    ensure("google-generativeai")
    import google.generativeai as genai

print(genai.__name__)
