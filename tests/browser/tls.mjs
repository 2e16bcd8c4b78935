// A throwaway certificate authority for the browser tests: a CA and a
// certificate for localhost and any other names (openssl), and a HOME whose NSS database
// trusts the CA (certutil), for a chromium launched with that HOME.
// Chromium runs DBSC only over HTTPS it trusts.

import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

const run = (command, args, cwd) => execFileSync(command, args, { cwd, stdio: ["ignore", "ignore", "pipe"] });

/**
 * Makes the CA, a certificate for localhost (and `names`) and the trusting
 * HOME under `dir`; returns their paths.
 */
export function makeTestTls(dir, names = []) {
  const file = (name) => path.join(dir, name);
  run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=sessiongate test CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], dir);
  run("openssl", ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", "localhost.key", "-out", "localhost.csr", "-subj", "/CN=localhost"], dir);
  writeFileSync(file("ext.cnf"), [
    `subjectAltName=${["localhost", ...names].map((n) => `DNS:${n}`).join(",")},IP:127.0.0.1`,
    "basicConstraints=CA:FALSE",
    "keyUsage=critical,digitalSignature",
    "extendedKeyUsage=serverAuth",
  ].join("\n"));
  run("openssl", ["x509", "-req", "-in", "localhost.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
    "-out", "localhost.pem", "-days", "2", "-extfile", "ext.cnf"], dir);
  const home = file("home");
  const nssdb = path.join(home, ".pki/nssdb");
  mkdirSync(nssdb, { recursive: true });
  run("certutil", ["-d", `sql:${nssdb}`, "-N", "--empty-password"], dir);
  run("certutil", ["-d", `sql:${nssdb}`, "-A", "-t", "C,,", "-n", "sessiongate-test-ca", "-i", file("ca.pem")], dir);
  return { key: file("localhost.key"), cert: file("localhost.pem"), ca: file("ca.pem"), home };
}
