// Sigstore's own code (sigstore-js: @sigstore/sign, @sigstore/verify, @sigstore/bundle, from
// .deps/sigstore) as the reference the tests hold wasmpack's signatures to, offline, in
// public-key mode, with no transparency log or timestamp authority:
//   node sigstore.mjs verify PUB.pem IMAGE-DIGEST < bundle.json
//       verifies the bundle's signature with the key, then that its DSSE payload is an
//       in-toto statement about IMAGE-DIGEST (cosign's image signature); prints "verified"
//   node sigstore.mjs sign KEY.pem IMAGE-DIGEST NAME > bundle.json
//       signs IMAGE-DIGEST as cosign 3 does (a DSSE-wrapped in-toto statement, predicate
//       type https://sigstore.dev/cosign/sign/v1) with Sigstore's bundle builder
//   node sigstore.mjs sign KEY.pem IMAGE-DIGEST NAME PREDICATE-TYPE [PREDICATE-JSON]
//       an attestation of another kind (an SBOM, a provenance, a verdict) with the same key
// Exit 0 on success; 1 with Sigstore's message otherwise.
import { createRequire } from 'node:module';
import { createHash, createPrivateKey, createPublicKey, sign as cryptoSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../.deps/sigstore/package.json'));
const { bundleFromJSON, bundleToJSON } = require('@sigstore/bundle');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');
const { DSSEBundleBuilder } = require('@sigstore/sign');

const [cmd, keyFile, digest, name, predicateType, predicateJSON] = process.argv.slice(2);
const hex = (digest || '').replace(/^sha256:/, '');
// the key's hint: base64 of the sha256 of its DER SubjectPublicKeyInfo, as wasmpack writes it
const hintOf = (pub) => createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('base64');

async function main() {
  if (cmd === 'verify') {
    const pub = createPublicKey(readFileSync(keyFile));
    const bundle = bundleFromJSON(JSON.parse(readFileSync(0, 'utf8')));
    const entity = toSignedEntity(bundle);
    const trust = toTrustMaterial(
      { certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [] },
      (hint) => {
        if (hint && hint !== hintOf(pub)) throw new Error(`no key for hint ${hint}`);
        return { publicKey: pub, validFor: () => true };
      });
    new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(entity);
    const env = bundle.content.dsseEnvelope;
    if (!env) throw new Error('not a DSSE bundle');
    const st = JSON.parse(Buffer.from(env.payload).toString('utf8'));
    if (!(st.subject || []).some((s) => s.digest && s.digest.sha256 === hex))
      throw new Error(`the statement is not about ${digest}`);
    console.log(`verified: ${st.predicateType} for ${digest}`);
  } else if (cmd === 'sign') {
    const key = createPrivateKey(readFileSync(keyFile));
    const pub = createPublicKey(key);
    const statement = {
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name, digest: { sha256: hex } }],
      predicateType: predicateType || 'https://sigstore.dev/cosign/sign/v1',
      predicate: predicateJSON ? JSON.parse(predicateJSON) : {},
    };
    const signer = {
      sign: async (data) => ({
        signature: cryptoSign('sha256', data, key),
        key: { $case: 'publicKey', publicKey: pub.export({ type: 'spki', format: 'pem' }), hint: hintOf(pub) },
      }),
    };
    const bundle = await new DSSEBundleBuilder({ signer, witnesses: [] }).create({
      data: Buffer.from(JSON.stringify(statement)),
      type: 'application/vnd.in-toto+json',
    });
    process.stdout.write(JSON.stringify(bundleToJSON(bundle)) + '\n');
  } else {
    throw new Error('usage: sigstore.mjs verify PUB.pem DIGEST < bundle | sign KEY.pem DIGEST NAME');
  }
}

main().catch((e) => {
  console.error(`sigstore: ${e.message}`);
  process.exit(1);
});
