"""Host unit tests of scripts/apt-sources.sh: uio's private sources list derived from
sample apt configurations in both formats (deb822 .sources and one-line .list)."""
import os
import subprocess
import tempfile
import textwrap
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "..", "..", "scripts", "apt-sources.sh")

KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
EXTRA = ["bookworm-backports", "trixie", "trixie-backports", "sid"]


class AptSources(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = self.tmp.name
        self.parts = os.path.join(self.root, "sources.list.d")
        self.lists = os.path.join(self.root, "lists")
        self.keys = os.path.join(self.root, "keys")
        os.mkdir(self.parts)
        os.mkdir(self.lists)
        self.list = os.path.join(self.root, "sources.list")

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, text):
        path = self.list if name == "sources.list" else os.path.join(self.parts, name)
        with open(path, "w") as f:
            f.write(textwrap.dedent(text).lstrip("\n"))
        return path

    def release(self, name, origin):
        """A Release file as apt stores it in its lists directory."""
        with open(os.path.join(self.lists, name), "w") as f:
            f.write(f"Origin: {origin}\nLabel: {origin}\nSuite: x\n")

    def run_script(self):
        return subprocess.run(
            ["bash", SCRIPT, "--list", self.list, "--parts", self.parts,
             "--lists", self.lists, "--keydir", self.keys],
            capture_output=True, text=True)

    def entries(self):
        r = self.run_script()
        self.assertEqual(r.returncode, 0, r.stderr)
        return [l for l in r.stdout.splitlines() if l and not l.startswith("#")], r.stderr

    def test_deb822_multiple_suites_and_uris(self):
        self.write("debian.sources", f"""
            Types: deb deb-src
            # a comment inside a stanza
            URIs: http://mirror.example/debian http://cache.example:3142/debian/
            Suites: bookworm bookworm-updates
            Components: main contrib non-free-firmware
            Signed-By: {KEYRING}

            Types: deb
            URIs: http://security.example/debian-security
            Suites: bookworm-security
            Components: main
            Signed-By: {KEYRING}

            Types: deb
            URIs: http://old.example/debian
            Suites: bookworm
            Components: main
            Enabled: no

            Types: deb-src
            URIs: http://src.example/debian
            Suites: bookworm
            Components: main
            """)
        got, err = self.entries()
        opt = f"[signed-by={KEYRING}]"
        want = []
        for uri in ("http://mirror.example/debian", "http://cache.example:3142/debian/"):
            for suite in ("bookworm", "bookworm-updates"):
                want.append(f"deb {opt} {uri} {suite} main contrib non-free-firmware")
        want.append(f"deb {opt} http://security.example/debian-security bookworm-security main")
        for uri in ("http://mirror.example/debian", "http://cache.example:3142/debian"):
            want += [f"deb {opt} {uri} {s} main" for s in EXTRA]
        self.assertEqual(got, want)
        self.assertNotIn("old.example", "\n".join(got))
        self.assertNotIn("src.example", "\n".join(got))

    def test_one_line_with_options(self):
        self.write("sources.list", f"""
            # deb http://commented.example/debian bookworm main
            deb [ arch=amd64  signed-by={KEYRING} ] http://mirror.example/debian bookworm main non-free-firmware
            deb-src http://mirror.example/debian bookworm main
            deb [arch=amd64] http://mirror.example/debian bookworm-updates main # trailing comment
            deb cdrom:[Debian GNU/Linux 12.0.0 _Bookworm_ - Official amd64 DVD]/ bookworm main
            deb http://security.example/debian-security bookworm-security main

            deb [trusted=yes] file:/srv/vendor stable main
            """)
        got, err = self.entries()
        o = f"[arch=amd64 signed-by={KEYRING}]"
        self.assertEqual(got, [
            f"deb {o} http://mirror.example/debian bookworm main non-free-firmware",
            "deb [arch=amd64] http://mirror.example/debian bookworm-updates main",
            "deb http://security.example/debian-security bookworm-security main",
        ] + [f"deb {o} http://mirror.example/debian {s} main" for s in EXTRA])

    def test_both_formats_and_disabled_files(self):
        self.write("sources.list", "deb http://security.example/debian-security bookworm-security main\n")
        self.write("debian.sources", """
            Types: deb
            URIs: file:/srv/mirror/debian
            Suites: bookworm
            Components: main
            Architectures: amd64 i386
            Trusted: yes
            """)
        # apt reads only *.list and *.sources: these must be ignored
        self.write("other.list.disabled-by-farm", "deb http://disabled.example/debian bookworm main\n")
        self.write("other.sources.disabled-by-farm", """
            Types: deb
            URIs: http://disabled.example/debian
            Suites: bookworm
            Components: main
            """)
        self.write("old.list.save", "deb http://disabled.example/debian bookworm main\n")
        got, err = self.entries()
        o = "[arch=amd64,i386 trusted=yes]"
        self.assertEqual(got, [
            "deb http://security.example/debian-security bookworm-security main",
            f"deb {o} file:/srv/mirror/debian bookworm main",
        ] + [f"deb {o} file:/srv/mirror/debian {s} main" for s in EXTRA])
        self.assertNotIn("disabled.example", "\n".join(got))

    def test_configured_suites_not_added_twice_and_others_left_out(self):
        self.write("debian.list", """
            deb http://mirror.example/debian bookworm main
            deb http://mirror.example/debian bookworm-backports main
            deb http://mirror.example/debian trixie main
            """)
        got, err = self.entries()
        self.assertEqual(got, [
            "deb http://mirror.example/debian bookworm main",
            "deb http://mirror.example/debian bookworm-backports main",
            "deb http://mirror.example/debian trixie main",
            "deb http://mirror.example/debian trixie-backports main",
            "deb http://mirror.example/debian sid main",
        ])
        self.assertIn("no security archive", err)

    def test_vendor_repository_with_bookworm_main_is_not_debian(self):
        # a vendor that also publishes "bookworm main": apt's Release file names the origin
        self.write("vendor.list", "deb https://vendor.example/apt_repo/ bookworm main\n")
        self.write("debian.list", "deb http://mirror.example/debian bookworm main\n")
        self.release("vendor.example_apt%5frepo_dists_bookworm_InRelease", "Vendor")
        self.release("mirror.example_debian_dists_bookworm_InRelease", "Debian")
        got, err = self.entries()
        self.assertEqual(got, ["deb http://mirror.example/debian bookworm main"] +
                         [f"deb http://mirror.example/debian {s} main" for s in EXTRA])

    def test_inline_key(self):
        self.write("debian.sources", """
            Types: deb
            URIs: http://mirror.example/debian
            Suites: bookworm
            Components: main
            Signed-By:
             -----BEGIN PGP PUBLIC KEY BLOCK-----
             .
             mDMEZZZZZZZZZZZZ
             -----END PGP PUBLIC KEY BLOCK-----
            """)
        got, err = self.entries()
        key = os.path.join(self.keys, "debian.sources-1.asc")
        self.assertEqual(got[0], f"deb [signed-by={key}] http://mirror.example/debian bookworm main")
        with open(key) as f:
            self.assertEqual(f.read(), "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZZZZZZZZZZZZ\n"
                             "-----END PGP PUBLIC KEY BLOCK-----\n")

    def test_no_debian_source_is_a_clear_error(self):
        self.write("sources.list", """
            # deb http://mirror.example/debian bookworm main
            deb-src http://mirror.example/debian bookworm main
            deb http://security.example/debian-security bookworm-security main
            """)
        self.write("vendor.sources", """
            Types: deb
            URIs: https://vendor.example/node
            Suites: nodistro
            Components: main

            Types: deb
            URIs: http://mirror.example/debian
            Suites: bookworm
            Components: main
            Enabled: no
            """)
        self.write("contrib.list", "deb http://mirror.example/debian bookworm contrib\n")
        r = self.run_script()
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        self.assertIn("no Debian archive", r.stderr)
        self.assertIn("suite 'bookworm' with component 'main'", r.stderr)
        self.assertIn("vendor.sources:6: Enabled: no", r.stderr)
        self.assertIn("contrib.list:1: http://mirror.example/debian bookworm has no component main", r.stderr)

    def test_nothing_configured(self):
        r = self.run_script()
        self.assertEqual(r.returncode, 1)
        self.assertIn("read: nothing", r.stderr)


if __name__ == "__main__":
    unittest.main()
