// s3_server.mjs DIR BUCKET... - an S3 server (npm s3rver) for the tests.
//
// Listens on 127.0.0.1, on S3RVER_PORT or else a free port, keeps its objects
// under DIR, creates the named buckets, and prints one line
// "s3rver: listening on 127.0.0.1:PORT" once it serves.  Credentials are
// s3rver's fixed pair (access key S3RVER, secret S3RVER); it checks the
// key id only (it does not verify SigV4 signatures).  SIGTERM or SIGINT stop it.
//
// Run it as `node --openssl-legacy-provider s3_server.mjs ...`: s3rver makes its
// ListObjectsV2 continuation tokens with DES, which OpenSSL 3 keeps in the
// legacy provider; without it every listing past one page fails with 500.
import crypto from 'node:crypto';
import S3rver from 's3rver';

const [dir, ...buckets] = process.argv.slice(2);
if (!dir) {
  console.error('usage: s3_server.mjs DIR BUCKET...');
  process.exit(2);
}
try {
  crypto.createCipheriv('des', Buffer.alloc(8), Buffer.alloc(8));
} catch {
  console.error('s3_server.mjs: DES is not available: run node with --openssl-legacy-provider');
  process.exit(2);
}
const srv = new S3rver({
  address: '127.0.0.1',
  port: Number(process.env.S3RVER_PORT || 0),
  directory: dir,
  silent: true,
  // virtual-hosted requests: BUCKET.s3.localhost (curl resolves *.localhost to loopback)
  serviceEndpoint: 'localhost',
  configureBuckets: buckets.map((name) => ({ name, configs: [] })),
});
const addr = await srv.run();
console.log(`s3rver: listening on 127.0.0.1:${addr.port}`);
const stop = () => srv.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
