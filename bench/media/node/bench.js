// Sharp side of bench/media. Run by the Go harness as
//
//   node bench.js '<spec-json>'
//
// spec: {src, outDir, n, conc, warmup, targets: [{width, format}],
//        quality: {jpeg, webp, avif}, effort: {webp, avif}}
//
// It makes, for each of n images (the same source file, as Atlas's child
// does), exactly the variant set the Go engine makes: the targets list is
// computed by Atlas's imaging.Spec.Targets and passed in, with Atlas's
// encoder settings. Written the way Sharp's documentation recommends for
// several outputs from one input: one sharp(input) pipeline per image and
// a .clone() per output, the outputs awaited together with Promise.all.
// Defaults kept: failOn 'warning', limitInputPixels, sharp.concurrency()
// (1 on glibc Linux without jemalloc), sequentialRead. sharp.cache(false)
// as in Sharp's own benchmark. conc images are in flight at once (a pool
// of conc async workers under Promise.all); the harness sets
// UV_THREADPOOL_SIZE=conc so at most conc libvips operations run at once,
// the same as Atlas's conc workers each running one operation at a time.
//
// Prints one line: DONE {json}.
'use strict';

const path = require('node:path');
const fs = require('node:fs');
const sharp = require('sharp');
const { encode } = require('blurhash');

sharp.cache(false);

const spec = JSON.parse(process.argv[2]);

// variants writes one image's variant set and returns its BlurHash and
// the encoded bytes.
async function variants(src, outDir, i) {
  // Atlas auto-orients (EXIF), converts to sRGB and strips metadata; Sharp
  // outputs sRGB without metadata by default; autoOrient is opt-in.
  const input = sharp(src, { autoOrient: true });
  const outs = spec.targets.map((t) => {
    let p = input.clone().resize({ width: t.width, withoutEnlargement: true });
    switch (t.format) {
      case 'jpeg':
        // = Atlas: Q80, optimize_coding, 4:2:0 (libvips auto below Q90), baseline, no trellis.
        p = p.jpeg({ quality: spec.quality.jpeg, optimiseCoding: true, chromaSubsampling: '4:2:0', mozjpeg: false, progressive: false });
        break;
      case 'webp':
        // = Atlas: Q80, effort (reduction_effort) 4, lossy, no smart subsample.
        p = p.webp({ quality: spec.quality.webp, effort: spec.effort.webp });
        break;
      case 'avif':
        // = Atlas: Q50, effort 4, 8 bit, 4:2:0 (libvips auto below Q90).
        // Sharp's own default is 4:4:4, which costs more; set to match.
        p = p.avif({ quality: spec.quality.avif, effort: spec.effort.avif, chromaSubsampling: '4:2:0', bitdepth: 8 });
        break;
      default:
        throw new Error(`unknown format ${t.format}`);
    }
    const ext = t.format === 'jpeg' ? 'jpg' : t.format;
    return p.toFile(path.join(outDir, `${i}-${t.width}w.${ext}`)).then((info) => info.size);
  });
  // The placeholder, as Atlas computes it: a BlurHash with 4×3
  // components of a ≤32 px thumbnail (blurhash's README recipe).
  const hash = input.clone().resize(32, 32, { fit: 'inside' }).ensureAlpha().raw()
    .toBuffer({ resolveWithObject: true })
    .then(({ data, info }) => encode(new Uint8ClampedArray(data), info.width, info.height, 4, 3));
  const [sizes, placeholder] = await Promise.all([Promise.all(outs), hash]);
  return { bytes: sizes.reduce((a, b) => a + b, 0), outputs: sizes.length, placeholder };
}

async function run(n, conc, first) {
  let next = 0;
  let bytes = 0;
  let outputs = 0;
  let placeholder = '';
  async function worker() {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      const r = await variants(spec.src, spec.outDir, first + i);
      bytes += r.bytes;
      outputs += r.outputs;
      placeholder = r.placeholder;
    }
  }
  await Promise.all(Array.from({ length: conc }, worker));
  return { bytes, outputs, placeholder };
}

async function main() {
  fs.mkdirSync(spec.outDir, { recursive: true });
  if (spec.warmup > 0) await run(spec.warmup, 1, 1e6);
  const t0 = process.hrtime.bigint();
  const r = await run(spec.n, spec.conc, 0);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const out = {
    images: spec.n, seconds, outputs: r.outputs, bytes: r.bytes, placeholder: r.placeholder,
    concurrency: sharp.concurrency(), uvThreadpool: process.env.UV_THREADPOOL_SIZE || '4 (default)',
    versions: { sharp: sharp.versions.sharp, vips: sharp.versions.vips, aom: sharp.versions.aom, webp: sharp.versions.webp, mozjpeg: sharp.versions.mozjpeg, heif: sharp.versions.heif, node: process.versions.node },
    maxRSSKiB: process.resourceUsage().maxRSS,
  };
  process.stdout.write(`DONE ${JSON.stringify(out)}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
