// A square crop/zoom so the user can centre the lesion (photos rarely frame it like dermoscopy does).
// Keyboard: arrow keys pan, +/- zoom; pointer: drag to pan, slider to zoom.

const VIEW = 320;

/** Resolves with a canvas holding the chosen square (native resolution), or null if cancelled. */
export function cropSquare(bitmap, dialog) {
  const canvas = dialog.querySelector('canvas');
  const zoom = dialog.querySelector('input[type=range]');
  const ctx = canvas.getContext('2d');
  canvas.width = VIEW;
  canvas.height = VIEW;
  const full = Math.min(bitmap.width, bitmap.height);
  const state = { side: full, x: (bitmap.width - full) / 2, y: (bitmap.height - full) / 2 };

  function clamp() {
    state.side = Math.max(8, Math.min(full, state.side));
    state.x = Math.max(0, Math.min(bitmap.width - state.side, state.x));
    state.y = Math.max(0, Math.min(bitmap.height - state.side, state.y));
  }
  function draw() {
    clamp();
    ctx.drawImage(bitmap, state.x, state.y, state.side, state.side, 0, 0, VIEW, VIEW);
    ctx.strokeStyle = 'rgba(255,255,255,.8)';
    ctx.beginPath();
    ctx.arc(VIEW / 2, VIEW / 2, VIEW / 3, 0, 2 * Math.PI);
    ctx.stroke();
  }
  function setZoom(value) {
    const cx = state.x + state.side / 2;
    const cy = state.y + state.side / 2;
    state.side = full / value;
    state.x = cx - state.side / 2;
    state.y = cy - state.side / 2;
    zoom.value = String(value);
    draw();
  }
  function pan(dx, dy) {
    state.x += dx;
    state.y += dy;
    draw();
  }

  zoom.value = '1';
  zoom.oninput = () => setZoom(Number(zoom.value));
  canvas.onkeydown = (event) => {
    const step = state.side / 20;
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (moves[event.key]) pan(...moves[event.key]);
    else if (event.key === '+' || event.key === '=') setZoom(Math.min(4, Number(zoom.value) + 0.25));
    else if (event.key === '-') setZoom(Math.max(1, Number(zoom.value) - 0.25));
    else return;
    event.preventDefault();
  };
  let drag = null;
  canvas.onpointerdown = (event) => {
    drag = { x: event.clientX, y: event.clientY };
    canvas.setPointerCapture(event.pointerId);
  };
  canvas.onpointermove = (event) => {
    if (!drag) return;
    const scale = state.side / VIEW;
    pan((drag.x - event.clientX) * scale, (drag.y - event.clientY) * scale);
    drag = { x: event.clientX, y: event.clientY };
  };
  canvas.onpointerup = () => {
    drag = null;
  };
  draw();

  return new Promise((resolve) => {
    dialog.onclose = () => {
      if (dialog.returnValue !== 'crop') return resolve(null);
      const out = document.createElement('canvas');
      out.width = Math.round(state.side);
      out.height = Math.round(state.side);
      out.getContext('2d').drawImage(bitmap, state.x, state.y, state.side, state.side, 0, 0, out.width, out.height);
      return resolve(out);
    };
    dialog.returnValue = '';
    dialog.showModal();
    canvas.focus();
  });
}
