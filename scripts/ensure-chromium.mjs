// npm test's set-up step (the "pretest" script): the portal's browser tests drive Debian's Chromium
// (/usr/bin/chromium, never a downloaded browser). On a fresh machine it is installed from Debian's
// packages when we may (root); otherwise we say what to run instead of failing later in the suite.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

const CHROMIUM = "/usr/bin/chromium";

if (!existsSync(CHROMIUM)) {
  if (process.getuid?.() !== 0) {
    console.error(`${CHROMIUM} is missing and this is not root: run \`sudo apt-get install -y chromium\`, then npm test again.`);
    process.exit(1);
  }
  console.log(`${CHROMIUM} is missing: installing Debian's chromium package for the browser tests…`);
  execFileSync("apt-get", ["update"], { stdio: "inherit" });
  execFileSync("apt-get", ["install", "-y", "chromium"], { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
}
