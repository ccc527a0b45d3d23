package faults

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
)

// multipartBoundary is the boundary of the bodies multipartFile builds.
const multipartBoundary = "faults-boundary-17"

var multipartType = "multipart/form-data; boundary=" + multipartBoundary

// multipartFile is a multipart body with one "file" part holding data.
func multipartFile(data []byte) []byte {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	_ = mw.SetBoundary(multipartBoundary)
	fw, _ := mw.CreateFormFile("file", "upload.png")
	_, _ = fw.Write(data)
	_ = mw.Close()
	return b.Bytes()
}

// pngImage is a real w×h PNG.
func pngImage(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		img.Set(x, x%h, color.RGBA{R: uint8(x), G: 80, B: 160, A: 255})
	}
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	return b.Bytes()
}
