// Live camera capture (getUserMedia) with a shutter; phones also get the file input's capture attribute.

export function cameraAvailable() {
  return Boolean(navigator.mediaDevices?.getUserMedia);
}

export async function startCamera(video) {
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
  video.srcObject = stream;
  await video.play();
  return stream;
}

export function captureFrame(video) {
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext('2d').drawImage(video, 0, 0);
  return canvas;
}

export function stopCamera(stream, video) {
  for (const track of stream?.getTracks() ?? []) track.stop();
  video.srcObject = null;
}
