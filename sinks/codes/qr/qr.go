// Package qr renders a token as the PNG QR code the code service serves
// (GET /v1/codes/{person_key}/qr.png) and reads one back (healthcode verify).
//
// The image is Size×Size pixels, every module the same whole number of
// pixels, the symbol centred on a white quiet zone of at least QuietZone
// modules. Read takes such an image as it is, module by module, and only when
// that fails (a screenshot, a photograph) searches the image for the code.
package qr

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"

	"github.com/makiuchi-d/gozxing"
	mqr "github.com/makiuchi-d/gozxing/multi/qrcode"
	zqr "github.com/makiuchi-d/gozxing/qrcode"
	"github.com/skip2/go-qrcode"
)

// Size is the width and height of the image in pixels.
const Size = 512

// QuietZone is the least white margin around the symbol, in modules (ISO/IEC
// 18004 asks for 4).
const QuietZone = 4

// PNG renders text as a QR code, error correction level M. skip2/go-qrcode
// chooses the version and the mask; the pixels are drawn here. Its own Image
// stretches the symbol with its quiet zone over the whole image, so that
// modules are of unequal widths (7 and 8 pixels for version 11 in 512) and a
// reader sampling on a regular grid drifts across the symbol: drawn so,
// gozxing could not read 11 of the 40 versions (22, and most from 28 up).
func PNG(text string) ([]byte, error) {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("encode QR code: %w", err)
	}
	q.DisableBorder = true // the quiet zone is drawn below
	modules := q.Bitmap()
	n := len(modules)
	scale := Size / (n + 2*QuietZone) // pixels per module
	if scale < 1 {
		return nil, fmt.Errorf("encode QR code: version %d does not fit %d pixels", q.VersionNumber, Size)
	}
	img := image.NewPaletted(image.Rect(0, 0, Size, Size), color.Palette{color.White, color.Black})
	off := (Size - n*scale) / 2
	for y, row := range modules {
		for x, dark := range row {
			if !dark {
				continue
			}
			for py := off + y*scale; py < off+(y+1)*scale; py++ {
				i := img.PixOffset(off+x*scale, py)
				for px := range scale {
					img.Pix[i+px] = 1
				}
			}
		}
	}
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.DefaultCompression}).Encode(&b, img); err != nil {
		return nil, fmt.Errorf("encode QR code: %w", err)
	}
	return b.Bytes(), nil
}

// Read returns the text of the QR code in a PNG (or other registered format)
// image.
//
// An image that is the code itself, as PNG draws it, is read as a pure
// barcode: the symbol's corners and module size are taken from its dark
// pixels and every module sampled at its centre. gozxing's detector, made for
// camera frames, is not reliable on those: its finder search stops at the
// first three finder-like patterns with a consistent module size, and in
// 2 to 3 of 100 tokens the data modules hold a 1:1:3:1:1 pattern that passes
// its checks before the scan reaches the bottom-left finder, so it samples a
// wrong grid ("we didn't find a close enough match", "dimension = 47").
// Other images (a screenshot of the citizen's page, a photograph) go to that
// detector, then to the multi-code detector, which tries every plausible
// triple of finder patterns.
func Read(b []byte) (string, error) {
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return "", fmt.Errorf("read QR image: %w", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", fmt.Errorf("read QR image: %w", err)
	}
	r := zqr.NewQRCodeReader()
	if res, err := r.Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true}); err == nil {
		return res.GetText(), nil
	}
	hard := map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true}
	res, err := r.Decode(bmp, hard)
	if err == nil {
		return res.GetText(), nil
	}
	if all, merr := mqr.NewQRCodeMultiReader().DecodeMultiple(bmp, hard); merr == nil && len(all) > 0 {
		return all[0].GetText(), nil
	}
	return "", fmt.Errorf("no QR code found in the image: %w", err)
}
