#!/usr/bin/env python3
"""A small sigstore ("cosign-style") image signer for tests, written from the public signature spec
(sigstore's SIGNATURE_SPEC.md and containers-signature(5)); it shares no code with cricket's verifier
(lib/image/policy), so the e2e tests check one implementation against another.

  keygen PREFIX
      writes PREFIX.key (an unencrypted PKCS#8 PEM ECDSA P-256 private key) and PREFIX.pub (its PEM
      SubjectPublicKeyInfo public key, what a policy's sigstoreSigned keyPath/keyData holds).

  sign --key PREFIX.key --registry HOST:PORT --repository REPO --digest sha256:HEX [--identity REF]
      signs the simple-signing payload
        {"critical": {"identity": {"docker-reference": REF}, "image": {"docker-manifest-digest": DIGEST},
                      "type": "cosign container image signature"}, "optional": null}
      (REF defaults to HOST:PORT/REPO, the repository, as the spec's signers write it) with ECDSA over
      SHA-256 (an ASN.1 DER signature), and pushes it to the registry (plain HTTP, no auth) as the spec's
      tag-based discovery wants: an OCI image manifest tagged `sha256-HEX.sig` in REPO whose layers are
      the payload blobs, media type application/vnd.dev.cosign.simplesigning.v1+json, each with its
      base64 signature in the `dev.cosignproject.cosign/signature` annotation. An existing .sig
      manifest keeps its layers: each sign adds one signature.

Needs python3 and Debian's python3-cryptography. Prints the signature tag on success.
"""
import argparse
import base64
import hashlib
import http.client
import json
import sys
import urllib.parse

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

PAYLOAD_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
SIGNATURE_TYPE = "cosign container image signature"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"


def keygen(prefix):
    key = ec.generate_private_key(ec.SECP256R1())
    with open(prefix + ".key", "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(prefix + ".pub", "wb") as f:
        f.write(key.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo))


class Registry:
    """Just enough of the distribution API (plain HTTP) to read and write one repository."""

    def __init__(self, host, repository):
        self.host, self.repository = host, repository

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection(self.host, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def push_blob(self, data):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        status, _, _ = self.request("HEAD", "/v2/%s/blobs/%s" % (self.repository, digest))
        if status == 200:
            return digest
        status, headers, body = self.request("POST", "/v2/%s/blobs/uploads/" % self.repository)
        if status != 202:
            raise RuntimeError("starting a blob upload: HTTP %d %s" % (status, body[:200]))
        location = {k.lower(): v for k, v in headers.items()}["location"]
        url = urllib.parse.urlsplit(location)
        query = (url.query + "&" if url.query else "") + urllib.parse.urlencode({"digest": digest})
        status, _, body = self.request("PUT", "%s?%s" % (url.path, query), body=data,
                                       headers={"Content-Type": "application/octet-stream",
                                                "Content-Length": str(len(data))})
        if status != 201:
            raise RuntimeError("uploading blob %s: HTTP %d %s" % (digest, status, body[:200]))
        return digest

    def get_manifest(self, tag):
        status, _, body = self.request("GET", "/v2/%s/manifests/%s" % (self.repository, tag),
                                       headers={"Accept": OCI_MANIFEST})
        if status == 404:
            return None
        if status != 200:
            raise RuntimeError("reading manifest %s: HTTP %d %s" % (tag, status, body[:200]))
        return json.loads(body)

    def put_manifest(self, tag, manifest):
        data = json.dumps(manifest, separators=(",", ":")).encode()
        status, _, body = self.request("PUT", "/v2/%s/manifests/%s" % (self.repository, tag), body=data,
                                       headers={"Content-Type": OCI_MANIFEST})
        if status != 201:
            raise RuntimeError("writing manifest %s: HTTP %d %s" % (tag, status, body[:200]))


def sign(args):
    algorithm, _, hexdigest = args.digest.partition(":")
    if algorithm != "sha256" or len(hexdigest) != 64:
        raise SystemExit("sigstore_signer: --digest must be sha256:<64 hex digits>, not %r" % args.digest)
    with open(args.key, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise SystemExit("sigstore_signer: %s is not an ECDSA private key" % args.key)
    identity = args.identity or "%s/%s" % (args.registry, args.repository)
    payload = json.dumps({"critical": {"identity": {"docker-reference": identity},
                                       "image": {"docker-manifest-digest": args.digest},
                                       "type": SIGNATURE_TYPE},
                          "optional": None}, separators=(",", ":")).encode()
    signature = base64.b64encode(key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()

    registry = Registry(args.registry, args.repository)
    tag = "sha256-%s.sig" % hexdigest
    existing = registry.get_manifest(tag)
    layers = list(existing["layers"]) if existing else []
    layers.append({"mediaType": PAYLOAD_MEDIA_TYPE, "size": len(payload), "digest": registry.push_blob(payload),
                   "annotations": {SIGNATURE_ANNOTATION: signature}})
    # The config is an image config listing the payloads as the (uncompressed) layers.
    config = json.dumps({"architecture": "", "os": "", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in layers]}},
                        separators=(",", ":")).encode()
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "size": len(config), "digest": registry.push_blob(config)},
                "layers": layers}
    registry.put_manifest(tag, manifest)
    print("%s/%s:%s" % (args.registry, args.repository, tag))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    k = sub.add_parser("keygen")
    k.add_argument("prefix")
    s = sub.add_parser("sign")
    s.add_argument("--key", required=True)
    s.add_argument("--registry", required=True, help="HOST:PORT of a plain-HTTP registry")
    s.add_argument("--repository", required=True)
    s.add_argument("--digest", required=True, help="the signed image's manifest digest")
    s.add_argument("--identity", default="", help="the claimed docker-reference (default: the repository)")
    args = ap.parse_args()
    try:
        if args.command == "keygen":
            keygen(args.prefix)
        else:
            sign(args)
    except (OSError, RuntimeError, ValueError) as e:
        sys.exit("sigstore_signer: %s" % e)


if __name__ == "__main__":
    main()
