"""Maps the repository's layer folders onto the ``driftline.*`` import namespace.

Everything else about the distribution lives in pyproject.toml; this file only
exists because a folder-to-package mapping with sub-package discovery cannot be
expressed there.
"""

from __future__ import annotations

from setuptools import find_packages, setup

LAYERS = ("config", "detectors", "streams", "views")

packages = ["driftline"]
package_dir = {"driftline": "driftline"}
for layer in LAYERS:
    package_dir[f"driftline.{layer}"] = layer
    packages.append(f"driftline.{layer}")
    packages.extend(f"driftline.{layer}.{sub}" for sub in find_packages(layer))

PACKAGE_DATA = {
    "driftline.streams": ["py.typed"],
    "driftline.streams.state": ["lua/*.lua"],
    "driftline.views": ["templates/*.html", "static/*"],
}

setup(packages=packages, package_dir=package_dir, package_data=PACKAGE_DATA)
