package imaging

import (
	"fmt"
	"image"

	"github.com/buckket/go-blurhash"
	"golang.org/x/image/draw"
)

// placeholderSide is the longest side of the thumbnail a BlurHash is
// computed from: the hash keeps 4×3 frequency components, so more pixels
// only cost time.
const placeholderSide = 32

// Placeholder returns the BlurHash (4×3 components, about 28 characters)
// of img, computed on a ≤32 px thumbnail of it.
func Placeholder(img image.Image) (string, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		return "", fmt.Errorf("placeholder of an empty image")
	}
	tw, th := placeholderSide, placeholderSide
	if w >= h {
		th = max(1, h*placeholderSide/w)
	} else {
		tw = max(1, w*placeholderSide/h)
	}
	small := image.NewRGBA(image.Rect(0, 0, tw, th))
	draw.ApproxBiLinear.Scale(small, small.Bounds(), img, b, draw.Src, nil)
	hash, err := blurhash.Encode(4, 3, small)
	if err != nil {
		return "", fmt.Errorf("blurhash: %w", err)
	}
	return hash, nil
}
