#!/usr/bin/env python3
"""MoE Scope installed as a user installs it.

1. `cmake --install` into a temporary DESTDIR: the expected files and no others, the
   desktop entry and metainfo valid, and the installed program run by name from PATH
   (`moescope --help`, `moescope stats SAMPLE --json`, the window opening its sample).
2. `cpack -G DEB`: the package's fields and contents, then the package unpacked with
   `dpkg-deb -x` into a clean tree and the same runs from there.

Each installed program runs with the build tree's MOESCOPE_* variables removed, from
a folder outside the source tree, so it can only find what was installed.
"""
import json
import os
import re
import select
import shutil
import stat
import subprocess
import sys
import tempfile
import time

import h5py

CMAKE = os.environ["CMAKE_COMMAND"]
CPACK = os.environ["CPACK_COMMAND"]
BUILD_DIR = os.environ["MOESCOPE_BUILD_DIR"]
BUILD_BINARY = os.environ["MOESCOPE_BIN"]
BINDIR = os.environ["MOESCOPE_INSTALL_BINDIR"]
DATADIR = os.environ["MOESCOPE_INSTALL_DATADIR"]
LIBEXECDIR = os.environ["MOESCOPE_INSTALL_LIBEXECDIR"]
HAS_PREFLIGHT = os.environ.get("MOESCOPE_HAS_PREFLIGHT") == "1"
APP_ID = "io.moescope.MoEScope"
SAMPLES = ("sample-balanced.h5", "sample-collapsed.h5")

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL:", message, file=sys.stderr)
    return condition


def required_files():
    """Files every installed tree holds, relative to its prefix."""
    files = {f"{BINDIR}/moescope",
             f"{DATADIR}/applications/{APP_ID}.desktop",
             f"{DATADIR}/icons/hicolor/scalable/apps/{APP_ID}.svg",
             f"{DATADIR}/metainfo/{APP_ID}.metainfo.xml",
             f"{DATADIR}/doc/moescope/copyright"}
    files |= {f"{DATADIR}/moescope/{name}" for name in SAMPLES}
    if HAS_PREFLIGHT:
        files.add(f"{LIBEXECDIR}/moescope/moescope-preflight")
    return files


def allowed_program(relative):
    """The only programs installed: moescope itself and its helpers (no tests, no benches)."""
    return relative == f"{BINDIR}/moescope" or relative.startswith(f"{LIBEXECDIR}/moescope/")


def check_tree(prefix_dir, what):
    """The installed files under prefix_dir: all required ones, no stray programs."""
    installed, programs = set(), set()
    for folder, _, names in os.walk(prefix_dir):
        for name in names:
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, prefix_dir)
            installed.add(relative)
            if os.stat(path).st_mode & stat.S_IXUSR:
                programs.add(relative)
    missing = required_files() - installed
    check(not missing, f"{what}: missing {sorted(missing)}")
    stray = sorted(p for p in programs if not allowed_program(p))
    check(not stray, f"{what}: programs that are not MoE Scope's: {stray}")
    check(f"{BINDIR}/moescope" in programs, f"{what}: {BINDIR}/moescope is not executable")


def user_environment(prefix_dir, scratch):
    """A user's environment: the installed bin first on PATH, none of the build tree's hints."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOESCOPE_")}
    env["PATH"] = os.path.join(prefix_dir, BINDIR) + os.pathsep + env.get("PATH", "")
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["XDG_CONFIG_HOME"] = os.path.join(scratch, "config")
    env["XDG_CACHE_HOME"] = os.path.join(scratch, "cache")
    env["XDG_RUNTIME_DIR"] = os.path.join(scratch, "runtime")
    os.makedirs(env["XDG_RUNTIME_DIR"], mode=0o700, exist_ok=True)
    return env


def run(command, env, cwd, timeout=60):
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def expected_layout(sample):
    """What the sample holds, read with h5py, independently of MoE Scope."""
    with h5py.File(sample, "r") as dump:
        return {"layers": len(dump["layers"]), "num_experts": int(dump.attrs["num_experts"]),
                "tokens": len(dump["tokens/ids"])}


def without_file(report):
    return {k: v for k, v in report.items() if k != "file"}


def check_window_opens_sample(env, cwd, sample_dir, what):
    """The window, started with no file, opens the installed copy of the balanced sample."""
    env = dict(env, MOESCOPE_TIMING="1")
    window = subprocess.Popen(["moescope"], env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    opened, shown, log = None, False, []
    deadline = time.monotonic() + 45
    try:
        while time.monotonic() < deadline and not shown:
            ready, _, _ = select.select([window.stderr], [], [], deadline - time.monotonic())
            if not ready:
                break
            line = window.stderr.readline()
            if not line:  # the window exited
                break
            log.append(line)
            if line.startswith("moescope timing: opening "):
                opened = line[len("moescope timing: opening "):].strip()
            shown = shown or line.startswith("moescope timing: dump shown")
    finally:
        window.kill()
        window.wait()
    expected = os.path.join(sample_dir, "sample-balanced.h5")
    check(opened is not None and os.path.realpath(opened) == os.path.realpath(expected),
          f"{what}: the window opened {opened!r}, not the installed {expected}: {''.join(log)[-600:]}")
    check(shown, f"{what}: the window did not show the sample: {''.join(log)[-600:]}")


def check_installed_program(prefix_dir, scratch, what):
    env = user_environment(prefix_dir, scratch)
    installed = os.path.join(prefix_dir, BINDIR, "moescope")
    check(shutil.which("moescope", path=env["PATH"]) == installed,
          f"{what}: PATH does not find the installed moescope first")

    result = run(["moescope", "--help"], env, scratch)
    check(result.returncode == 0 and "moescope stats FILE" in result.stdout,
          f"{what}: moescope --help exited {result.returncode}: {result.stdout[-300:]}{result.stderr[-300:]}")

    sample_dir = os.path.join(prefix_dir, DATADIR, "moescope")
    for name in SAMPLES:
        sample = os.path.join(sample_dir, name)
        result = run(["moescope", "stats", sample, "--json"], env, scratch)
        if not check(result.returncode == 0, f"{what}: moescope stats {name} exited "
                     f"{result.returncode}: {result.stderr[-600:]}"):
            continue
        try:
            report = json.loads(result.stdout)
        except json.JSONDecodeError as error:
            check(False, f"{what}: moescope stats {name} --json is not JSON ({error}): {result.stdout[:300]}")
            continue
        layout = expected_layout(sample)
        check(len(report.get("layers", [])) == layout["layers"],
              f"{what}: {name}: {len(report.get('layers', []))} layers reported, the file has {layout['layers']}")
        check(report.get("num_experts") == layout["num_experts"] and report.get("tokens") == layout["tokens"],
              f"{what}: {name}: experts/tokens {report.get('num_experts')}/{report.get('tokens')}, "
              f"the file has {layout['num_experts']}/{layout['tokens']}")
        check(all(len(layer["counts"]) == layout["num_experts"] for layer in report.get("layers", [])),
              f"{what}: {name}: a layer's counts do not have one entry per expert")
        # The installed program gives the build tree's numbers.
        reference = subprocess.run([BUILD_BINARY, "stats", sample, "--json"], capture_output=True,
                                   text=True, timeout=60)
        check(reference.returncode == 0 and without_file(json.loads(reference.stdout)) == without_file(report),
              f"{what}: {name}: the installed moescope's stats differ from the build tree's")

    check_window_opens_sample(env, scratch, sample_dir, what)


def check_desktop_files(prefix_dir, what):
    desktop = os.path.join(prefix_dir, DATADIR, "applications", f"{APP_ID}.desktop")
    metainfo = os.path.join(prefix_dir, DATADIR, "metainfo", f"{APP_ID}.metainfo.xml")
    if shutil.which("desktop-file-validate"):
        result = subprocess.run(["desktop-file-validate", desktop], capture_output=True, text=True)
        check(result.returncode == 0 and not result.stdout.strip(),
              f"{what}: desktop-file-validate: {result.stdout}{result.stderr}")
    else:
        print("note: desktop-file-validate not found (Debian package desktop-file-utils); not validated")
    if shutil.which("appstreamcli"):
        result = subprocess.run(["appstreamcli", "validate", "--no-net", metainfo], capture_output=True, text=True)
        check(result.returncode == 0, f"{what}: appstreamcli validate: {result.stdout}{result.stderr}")
    else:
        print("note: appstreamcli not found (Debian package appstream); metainfo not validated")
    with open(desktop, encoding="utf-8") as entry:
        fields = dict(line.strip().split("=", 1) for line in entry if "=" in line)
    check(fields.get("Exec", "").split()[0] == "moescope" and fields.get("Icon") == APP_ID,
          f"{what}: the desktop entry does not start moescope with the {APP_ID} icon: {fields}")


def check_destdir_install(scratch):
    destdir = os.path.join(scratch, "destdir")
    prefix = "/opt/moescope-test"
    result = subprocess.run([CMAKE, "--install", BUILD_DIR, "--prefix", prefix],
                            env=dict(os.environ, DESTDIR=destdir), capture_output=True, text=True, timeout=120)
    if not check(result.returncode == 0, f"cmake --install failed: {result.stdout[-600:]}{result.stderr[-600:]}"):
        return
    prefix_dir = destdir + prefix
    check_tree(prefix_dir, "cmake --install")
    check_desktop_files(prefix_dir, "cmake --install")
    check_installed_program(prefix_dir, scratch, "cmake --install")


def deb_field(info, name):
    match = re.search(rf"^ {name}: (.*)$", info, re.MULTILINE)
    return match.group(1) if match else ""


def check_deb_package(scratch):
    package_dir = os.path.join(scratch, "package")
    result = subprocess.run([CPACK, "-G", "DEB", "--config", os.path.join(BUILD_DIR, "CPackConfig.cmake"),
                             "-B", package_dir], capture_output=True, text=True, timeout=300)
    debs = [name for name in os.listdir(package_dir) if name.endswith(".deb")] if os.path.isdir(package_dir) else []
    if not check(result.returncode == 0 and len(debs) == 1,
                 f"cpack -G DEB failed or made {debs}: {result.stdout[-800:]}{result.stderr[-800:]}"):
        return
    deb = os.path.join(package_dir, debs[0])
    check(re.fullmatch(r"moescope_[0-9][^_]*_[a-z0-9]+\.deb", debs[0]) is not None,
          f"the package file is named {debs[0]}, not moescope_VERSION_ARCH.deb")

    info = subprocess.run(["dpkg-deb", "--info", deb], capture_output=True, text=True, check=True).stdout
    check(deb_field(info, "Package") == "moescope", f"the package is not named moescope: {info}")
    check(deb_field(info, "Section") in ("science", "devel"), f"the package's section: {deb_field(info, 'Section')}")
    depends = deb_field(info, "Depends")
    for library in ("libqt6core6", "libqt6gui6", "libqt6widgets6", "libqt6svg6", "libhdf5-",
                    "ocl-icd-libopencl1", "libqcustomplot", "libdeflate0"):
        check(library in depends, f"the package's Depends does not name {library}: {depends}")
    check("pocl-opencl-icd" in deb_field(info, "Recommends"),
          f"the package does not recommend an OpenCL driver: {deb_field(info, 'Recommends')}")

    unpacked = os.path.join(scratch, "unpacked")
    subprocess.run(["dpkg-deb", "-x", deb, unpacked], check=True)
    contents = subprocess.run(["dpkg-deb", "--contents", deb], capture_output=True, text=True, check=True).stdout
    listed = {line.split()[-1].lstrip("./") for line in contents.splitlines() if not line.startswith("d")}
    packaged = {f"usr/{path}" for path in required_files()}
    check(packaged <= listed, f"the package lacks {sorted(packaged - listed)}")
    prefix_dir = os.path.join(unpacked, "usr")
    check_tree(prefix_dir, "the .deb")
    check_installed_program(prefix_dir, scratch, "the .deb unpacked")


def main():
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="moescope-install-") as scratch:
        check_destdir_install(scratch)
        check_deb_package(scratch)
    print(f"install check: {time.monotonic() - started:.1f} s, {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
