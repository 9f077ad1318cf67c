"""Install keras_wsal: `pip install .` (add `[test]` for the test tools)."""

import re
from pathlib import Path

from setuptools import find_packages, setup

_HERE = Path(__file__).parent
_VERSION = re.search(
    r'^__version__ = "([^"]+)"', (_HERE / "keras_wsal" / "version.py").read_text(), re.M
).group(1)

setup(
    name="keras_wsal",
    version=_VERSION,
    description=(
        "Weakly supervised action recognition and temporal action detection in untrimmed videos "
        "(UntrimmedNet, WSGN) for Keras 3 and TensorFlow."
    ),
    long_description=(_HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["keras_wsal", "keras_wsal.*"]),
    package_data={"keras_wsal": ["data/*.json"]},
    install_requires=[
        "tensorflow>=2.18",
        # keras_wsal.utils.keras_compat.KNOWN_KERAS: move both together, deliberately.
        "keras>=3.6,<3.16",
        "numpy",
        "scipy",  # sparse interpolation of WSGN's resampled frames (already scikit-image's)
        "matplotlib",
        "opencv-contrib-python-headless",
        "av",
        "scikit-image",
        "h5py",
        "tensorboard",
    ],
    extras_require={
        "test": ["pytest", "torch==2.13.0", "jax[cpu]==0.10.2", "ruff"],
    },
    entry_points={"console_scripts": ["keras-wsal=keras_wsal.cli:main"]},
    license="Apache-2.0",
)
