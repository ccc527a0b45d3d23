'use strict';
// npm `sitemap` contender of bench/sitemap, run as a child process by the Go
// parent (go run ./bench/sitemap). It writes the NDJSON URL list the Go
// builder produced (one {"url","lastmod","img":[{"url"}]} object a line)
// with SitemapAndIndexStream, gzipped children of 45,000 URLs, exactly as
// the package README recommends for large sites, and prints one JSON line:
//   {"seconds": <wall time of the write>, "urls": <lines read>, "files": <children>,
//    "vmHWMKB": <peak RSS from /proc/self/status>}
//
// usage: node bench.js <list.ndjson> <out-dir> <hostname> [gzip-level]
// (gzip-level defaults to zlib's default, 6, as in the README; pass 1 to
// match the Go writer's gzip.BestSpeed)

const { createReadStream, createWriteStream, mkdirSync, readFileSync } = require('node:fs');
const { resolve } = require('node:path');
const { createGzip } = require('node:zlib');
const { pipeline } = require('node:stream/promises');
const { Transform } = require('node:stream');
const {
  SitemapAndIndexStream,
  SitemapStream,
  lineSeparatedURLsToSitemapOptions,
} = require('sitemap');

async function main() {
  const [list, outDir, hostname, level] = process.argv.slice(2);
  const gzipOpts = level === undefined ? {} : { level: Number(level) };
  if (!list || !outDir || !hostname) {
    console.error('usage: node bench.js <list.ndjson> <out-dir> <hostname>');
    process.exit(2);
  }
  mkdirSync(outDir, { recursive: true });
  const t0 = process.hrtime.bigint();
  let files = 0;
  const sms = new SitemapAndIndexStream({
    limit: 45000,
    lastmodDateOnly: false,
    getSitemapStream: (i) => {
      files++;
      const sitemapStream = new SitemapStream({ hostname });
      const path = `sitemap-${i}.xml`;
      const ws = sitemapStream
        .pipe(createGzip(gzipOpts))
        .pipe(createWriteStream(resolve(outDir, path + '.gz')));
      return [new URL(path + '.gz', hostname + '/sitemaps/').toString(), sitemapStream, ws];
    },
  });
  let urls = 0;
  const count = new Transform({
    objectMode: true,
    transform(item, _enc, cb) { urls++; cb(null, item); },
  });
  await pipeline(
    lineSeparatedURLsToSitemapOptions(createReadStream(list), { isJSON: true }),
    count,
    sms,
    createGzip(),
    createWriteStream(resolve(outDir, 'sitemap-index.xml.gz')),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  const vmHWMKB = m ? Number(m[1]) : 0;
  process.stdout.write(JSON.stringify({ seconds, urls, files, vmHWMKB }) + '\n');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
