// gridgov grid worker app: photos are made small on the phone (a 20 MB camera photo goes up
// as a JPEG of at most 1600 px); redrawing the pixels leaves the camera's EXIF and GPS behind.
"use strict";
(function () {
  const MAX_SIDE = 1600;
  const QUALITY = 0.82;

  async function bitmap(file) {
    if (window.createImageBitmap) {
      try {
        return await createImageBitmap(file, { imageOrientation: "from-image" });
      } catch (e) {
        // fall through to an <img> decode
      }
    }
    const url = URL.createObjectURL(file);
    try {
      const img = new Image();
      img.src = url;
      await img.decode();
      return img;
    } finally {
      URL.revokeObjectURL(url);
    }
  }

  async function shrink(file) {
    const source = await bitmap(file);
    const w = source.width, h = source.height;
    const scale = Math.min(1, MAX_SIDE / Math.max(w, h));
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(w * scale));
    canvas.height = Math.max(1, Math.round(h * scale));
    canvas.getContext("2d").drawImage(source, 0, 0, canvas.width, canvas.height);
    if (source.close) source.close();
    return new Promise((resolve, reject) => {
      canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("encode"))), "image/jpeg", QUALITY);
    });
  }

  window.GGPhotos = { shrink };
})();
