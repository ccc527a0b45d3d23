//go:build !vips

package cli

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sevra/atlas/internal/media/imaging"
	"github.com/sevra/atlas/internal/store/storetest"
)

// TestHelperAtlasProcess is not a test: it is `atlas <args>` in a child
// process for TestUploadPeakMemory (ATLAS_TEST_CHILD_ARGS set), so the
// child's memory is its own.
func TestHelperAtlasProcess(t *testing.T) {
	args := os.Getenv("ATLAS_TEST_CHILD_ARGS")
	if args == "" {
		t.Skip("helper process for TestUploadPeakMemory")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	os.Exit(Run(ctx, strings.Fields(args), os.Getenv, os.Stdout, os.Stderr))
}

// pngOf writes a w×h PNG of the given bit depth (8 or 16) and colour type
// 6 (RGBA), streaming its rows, so a huge image costs the test little
// memory; the content compresses to almost nothing, like the 143 KB
// 7000×7000 file of the probe.
func pngOf(w, h, depth int) []byte {
	var buf bytes.Buffer
	buf.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&buf, binary.BigEndian, uint32(len(data)))
		crc := crc32.NewIEEE()
		io.WriteString(crc, typ)
		crc.Write(data)
		buf.WriteString(typ)
		buf.Write(data)
		binary.Write(&buf, binary.BigEndian, crc.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = byte(depth), 6
	chunk("IHDR", ihdr)
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	row := make([]byte, 1+w*4*depth/8)
	for y := range h {
		row[0] = 0
		row[1+(y%w)*4*depth/8] = byte(y) // not all equal
		zw.Write(row)
		row[1+(y%w)*4*depth/8] = 0
	}
	zw.Close()
	chunk("IDAT", z.Bytes())
	chunk("IEND", nil)
	return buf.Bytes()
}

// jpegOf encodes a w×h colour JPEG.
func jpegOf(w, h int) []byte {
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for i := range img.Y {
		img.Y[i] = byte(i)
	}
	var buf bytes.Buffer
	jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
	return buf.Bytes()
}

// vmHWM reads a process's peak resident set size, in bytes.
func vmHWM(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// TestUploadPeakMemory runs `atlas run` with the default settings in a
// child process, uploads hostile but accepted images (at the pixel limit,
// 16-bit and 8-bit RGBA PNGs that compress to almost nothing, a colour
// JPEG, and a 1920-wide PNG as tall as the limit allows) two of each at
// once, waits until each is processed, and reads the child's peak RSS
// (VmHWM) against the target, 300 MB (docs/BENCHMARKS.md has the
// figures; before the pure engine's bounds: 3,042 MB for the 49 MP images
// the old default accepted). Set ATLAS_TEST_MEM_PIXELS,
// ATLAS_TEST_MEM_FILES and ATLAS_TEST_MEM_EXTRA (a file uploaded as well)
// to measure other cases.
func TestUploadPeakMemory(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc (Linux)")
	}
	const limit = 300 << 20
	dir := storetest.TempDataDir(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAtlasProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "ATLAS_TEST_CHILD_ARGS=run", "ATLAS_DATA_DIR="+dir, "ATLAS_ADDR=127.0.0.1:0",
		"ATLAS_ADMIN_TOKEN=mem-tok", "ATLAS_LOG_LEVEL=warn")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			t.Logf("child stderr:\n%s", stderr.String())
		}
	}()
	base := ""
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
			base = "http://" + a
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	if base == "" {
		t.Fatal("the child did not listen")
	}
	idle, err := vmHWM(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	// What the default settings accept: ask the child (a 413/422 here
	// would mean the file was refused, not processed).
	maxPixels := int64(imaging.PureMaxPixels)
	if v := os.Getenv("ATLAS_TEST_MEM_PIXELS"); v != "" {
		maxPixels, _ = strconv.ParseInt(v, 10, 64)
	}
	side := 1
	for int64(side+1)*int64(side+1) <= maxPixels {
		side++
	}
	files := map[string][]byte{
		"rgba16.png": pngOf(side, side, 16),
		"rgba8.png":  pngOf(side, side, 8),
		"photo.jpg":  jpegOf(side, side),
		// 1920 wide and as tall as the limit allows: its 1920-wide
		// variant would be as large as itself (PureMaxVariantPixels).
		"tall.png": pngOf(1920, int(maxPixels/1920), 8),
	}
	if extra := os.Getenv("ATLAS_TEST_MEM_EXTRA"); extra != "" { // a file of your own, e.g. a progressive JPEG
		data, err := os.ReadFile(extra)
		if err != nil {
			t.Fatal(err)
		}
		files["extra"+filepath.Ext(extra)] = data
	}
	if only := os.Getenv("ATLAS_TEST_MEM_FILES"); only != "" { // e.g. rgba16.png, to see one kind's share
		for name := range files {
			if !strings.Contains(","+only+",", ","+name+",") {
				delete(files, name)
			}
		}
	}
	var wg sync.WaitGroup
	ids := make(chan string, 2*len(files))
	for round := range 2 {
		for name, data := range files {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var body bytes.Buffer
				mw := multipart.NewWriter(&body)
				fw, _ := mw.CreateFormFile("file", name)
				fw.Write(data)
				mw.Close()
				req, _ := http.NewRequest("POST", base+"/api/v1/media", &body)
				req.Header.Set("Content-Type", mw.FormDataContentType())
				req.Header.Set("Authorization", "Bearer mem-tok")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 202 {
					t.Errorf("round %d %s (%d bytes, %d×%d): %d %s", round, name, len(data), side, side, resp.StatusCode, b)
					return
				}
				ids <- resp.Header.Get("Location")
			}()
		}
	}
	wg.Wait()
	close(ids)
	deadline := time.Now().Add(5 * time.Minute)
	for loc := range ids {
		for {
			resp, err := http.Get(base + loc)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(b), `"processing"`) {
				if !strings.Contains(string(b), `"ready"`) {
					t.Errorf("%s: %s", loc, b)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still processing after 5 minutes", loc)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	peak, err := vmHWM(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("atlas run, default settings: %d×%d images (%d each of %d files), peak RSS %d MB (idle %d MB)",
		side, side, 2, len(files), peak>>20, idle>>20)
	if peak > limit {
		t.Errorf("peak RSS %d MB, over the %d MB bound", peak>>20, limit>>20)
	}
}
