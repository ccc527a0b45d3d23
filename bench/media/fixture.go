package main

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// fixtureSpec describes a synthetic photo: size, JPEG quality and seed.
// The same spec always gives the same bytes (math/rand/v2 PCG and
// image/jpeg are deterministic).
type fixtureSpec struct {
	W, H    int
	Quality int
	Seed    uint64
}

// photo12MP is the throughput fixture: 4000×3000 (12 MP, a phone
// camera's size) at q96, about 5 MB. The upload-latency fixture is the
// same file.
var photo12MP = fixtureSpec{W: 4000, H: 3000, Quality: 96, Seed: 1}

func (f fixtureSpec) name() string {
	return fmt.Sprintf("photo-%dx%d-q%d-s%d.jpg", f.W, f.H, f.Quality, f.Seed)
}

// writeFixture writes the fixture into dir (once: an existing file of
// that name is reused) and returns its path.
func writeFixture(dir string, f fixtureSpec) (string, error) {
	p := filepath.Join(dir, f.name())
	if st, err := os.Stat(p); err == nil && st.Size() > 0 {
		return p, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, synthPhoto(f.W, f.H, f.Seed), &jpeg.Options{Quality: f.Quality}); err != nil {
		return "", err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return "", err
	}
	return p, os.Rename(tmp, p)
}

// synthPhoto draws a deterministic photo-like scene: a sky gradient over
// a ground gradient with a soft horizon, two octaves of smooth value noise
// (clouds, terrain texture), a sun with a glow, a few dozen shaded
// ellipses and rectangles with soft edges (objects, buildings), fine
// texture stripes, and per-pixel sensor noise. It has the mix of flat
// areas, edges and high-frequency detail that makes encoders work as they
// do on real photos (a pure-noise image would be much larger; a pure
// gradient, much smaller).
func synthPhoto(w, h int, seed uint64) *image.RGBA {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	coarse := newValueNoise(rng, 12, 9)
	fine := newValueNoise(rng, 96, 72)
	grain := newValueNoise(rng, 1000, 750) // 4 px blobs: grass, bark, fabric
	horizon := 0.55 + 0.1*rng.Float64()
	sunX, sunY, sunR := 0.7*float64(w), 0.2*float64(h), 0.05*float64(w)

	type shape struct {
		x0, y0, x1, y1 float64 // bounding box
		ellipse        bool
		r, g, b        float64
		shade          float64 // brightness slope top to bottom
		stripes        float64 // stripe frequency (0: none)
	}
	shapes := make([]shape, 60)
	for i := range shapes {
		cx := rng.Float64() * float64(w)
		cy := (horizon - 0.15 + 0.6*rng.Float64()) * float64(h)
		sw := (0.02 + 0.15*rng.Float64()) * float64(w)
		sh := (0.02 + 0.2*rng.Float64()) * float64(h)
		shapes[i] = shape{x0: cx - sw/2, y0: cy - sh/2, x1: cx + sw/2, y1: cy + sh/2, ellipse: rng.IntN(2) == 0,
			r: 40 + 200*rng.Float64(), g: 40 + 200*rng.Float64(), b: 40 + 200*rng.Float64(),
			shade: -0.5 + rng.Float64(), stripes: []float64{0, 0, 0.05, 0.2}[rng.IntN(4)]}
	}
	// Per-pixel noise from a small precomputed table (a normal-ish
	// distribution, sigma about 5), indexed by a fast hash: drawing 36
	// million values from the PRNG would dominate the run.
	var noise [4096]float64
	for i := range noise {
		noise[i] = (rng.Float64() + rng.Float64() + rng.Float64() - 1.5) * 10
	}
	row := make([]float64, 3*w)
	for y := 0; y < h; y++ {
		fy := float64(y) / float64(h)
		for x := 0; x < w; x++ {
			fx := float64(x) / float64(w)
			c := coarse.at(fx, fy)
			d := fine.at(fx, fy)
			e := grain.at(fx, fy) - 0.5
			var r, g, b float64
			// Soft horizon: blend sky and ground over a few pixels.
			t := smoothstep(horizon-0.004, horizon+0.004, fy+0.03*(c-0.5))
			skyR, skyG, skyB := 70+120*fy+40*c, 120+90*fy+40*c, 200+40*fy+30*c
			if c > 0.55 { // clouds
				k := (c - 0.55) * 3
				skyR, skyG, skyB = skyR+k*(240-skyR), skyG+k*(240-skyG), skyB+k*(245-skyB)
			}
			gy := (fy - horizon) / (1 - horizon)
			grR, grG, grB := 90+60*c+40*d-30*gy+70*e, 110+50*c+30*d-40*gy+80*e, 50+30*c+20*d-20*gy+40*e
			r, g, b = skyR+(grR-skyR)*t, skyG+(grG-skyG)*t, skyB+(grB-skyB)*t
			// Sun and glow.
			dx, dy := float64(x)-sunX, float64(y)-sunY
			if dist := math.Sqrt(dx*dx + dy*dy); dist < 6*sunR {
				k := math.Max(0, 1-dist/(6*sunR))
				k = k * k
				if dist < sunR {
					k = 1
				}
				r, g, b = r+(255-r)*k, g+(245-g)*k, b+(210-b)*k
			}
			row[3*x], row[3*x+1], row[3*x+2] = r, g, b
		}
		for i := range shapes {
			s := &shapes[i]
			fyy := float64(y)
			if fyy < s.y0-2 || fyy > s.y1+2 {
				continue
			}
			for x := max(0, int(s.x0)-2); x < min(w, int(s.x1)+3); x++ {
				fxx := float64(x)
				var cover float64
				if s.ellipse {
					ex := (fxx - (s.x0+s.x1)/2) / ((s.x1 - s.x0) / 2)
					ey := (fyy - (s.y0+s.y1)/2) / ((s.y1 - s.y0) / 2)
					e := math.Sqrt(ex*ex+ey*ey) - 1 // <0 inside
					cover = clamp01(0.5 - e*(s.x1-s.x0)/4)
				} else {
					cover = clamp01(math.Min(math.Min(fxx-s.x0, s.x1-fxx), math.Min(fyy-s.y0, s.y1-fyy)) + 0.5)
				}
				if cover == 0 {
					continue
				}
				k := 1 + s.shade*((fyy-s.y0)/(s.y1-s.y0)-0.5)
				if s.stripes > 0 {
					k *= 0.85 + 0.15*math.Sin(fxx*s.stripes*math.Pi)
				}
				d := fine.at(fxx/float64(w), fyy/float64(h))
				e := grain.at(fxx/float64(w), fyy/float64(h))
				k *= 0.7 + 0.3*d + 0.3*e
				r, g, b := row[3*x], row[3*x+1], row[3*x+2]
				row[3*x], row[3*x+1], row[3*x+2] = r+(s.r*k-r)*cover, g+(s.g*k-g)*cover, b+(s.b*k-b)*cover
			}
		}
		pix := img.Pix[y*img.Stride:]
		for x := 0; x < w; x++ {
			hsh := uint32(x)*0x9E3779B1 ^ uint32(y)*0x85EBCA77
			hsh ^= hsh >> 15
			hsh *= 0x2C1B3C6D
			hsh ^= hsh >> 12
			pix[4*x] = u8(row[3*x] + noise[hsh&4095])
			pix[4*x+1] = u8(row[3*x+1] + noise[(hsh>>12)&4095])
			pix[4*x+2] = u8(row[3*x+2] + noise[(hsh>>20)&4095])
			pix[4*x+3] = 255
		}
	}
	return img
}

// valueNoise is bilinearly interpolated random values on a grid,
// smoothed with smoothstep: soft blobs at the grid's scale.
type valueNoise struct {
	gw, gh int
	v      []float64
}

func newValueNoise(rng *rand.Rand, gw, gh int) *valueNoise {
	n := &valueNoise{gw: gw, gh: gh, v: make([]float64, (gw+1)*(gh+1))}
	for i := range n.v {
		n.v[i] = rng.Float64()
	}
	return n
}

func (n *valueNoise) at(fx, fy float64) float64 {
	x, y := fx*float64(n.gw), fy*float64(n.gh)
	x0, y0 := min(int(x), n.gw-1), min(int(y), n.gh-1)
	tx, ty := smoothstep(0, 1, x-float64(x0)), smoothstep(0, 1, y-float64(y0))
	v := func(i, j int) float64 { return n.v[j*(n.gw+1)+i] }
	a := v(x0, y0) + (v(x0+1, y0)-v(x0, y0))*tx
	b := v(x0, y0+1) + (v(x0+1, y0+1)-v(x0, y0+1))*tx
	return a + (b-a)*ty
}

func smoothstep(e0, e1, x float64) float64 {
	t := clamp01((x - e0) / (e1 - e0))
	return t * t * (3 - 2*t)
}

func clamp01(v float64) float64 { return math.Max(0, math.Min(1, v)) }

func u8(v float64) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v + 0.5)
}
