// Sign-in: Google or an email link in production; email and password
// against the Auth emulator; and, against a bare Firestore emulator with
// no Auth emulator (`vayu demo`), a chosen identity sent as the
// emulator's mock token (it is accepted only by emulators).
import {
  GoogleAuthProvider, signInWithPopup, signInWithEmailAndPassword,
  sendSignInLinkToEmail, isSignInWithEmailLink, signInWithEmailLink,
} from 'firebase/auth';
import { getAuthInstance } from './firebase.js';
import { h, plainError } from './ui.js';
import { ROLES } from './model.js';

export function mountSignIn(root, config) {
  const emu = config.emulators || {};
  const status = h('p', { id: 'signin-status', role: 'status' });
  const fail = (e) => { status.textContent = plainError(e, 'Signing in'); };
  const auth = getAuthInstance();
  const form = h('form', { id: 'signin', 'aria-labelledby': 'signin-title' },
    h('h2', { id: 'signin-title' }, 'Sign in'));
  if (emu.firestore && !emu.auth) {
    const uid = h('input', { id: 'mock-uid', name: 'uid', required: true, value: 'demo-admin', pattern: '[A-Za-z0-9._-]{1,128}' });
    const role = h('select', { id: 'mock-role', name: 'role' }, ROLES.map((r) => h('option', { value: r, selected: r === 'admin' }, r)));
    form.append(h('p', {}, 'Local emulator without Auth: act as any user id with a role.'),
      h('label', { for: 'mock-uid' }, 'User id'), uid,
      h('label', { for: 'mock-role' }, 'Role'), role,
      h('button', { type: 'submit' }, 'Sign in'));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      sessionStorage.setItem('vayu-mock-user', JSON.stringify({ uid: uid.value, role: role.value }));
      location.reload();
    });
  } else {
    const email = h('input', { id: 'email', name: 'email', type: 'email', required: true, autocomplete: 'username' });
    const pass = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password' });
    form.append(h('label', { for: 'email' }, 'Email'), email);
    if (emu.auth) form.append(h('label', { for: 'password' }, 'Password (Auth emulator)'), pass);
    form.append(h('button', { type: 'submit' }, emu.auth ? 'Sign in' : 'Email me a sign-in link'));
    if (!emu.auth) {
      form.append(h('button', { type: 'button', onclick: () => signInWithPopup(auth, new GoogleAuthProvider()).catch(fail) }, 'Sign in with Google'));
    }
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        if (emu.auth) {
          await signInWithEmailAndPassword(auth, email.value, pass.value);
        } else {
          await sendSignInLinkToEmail(auth, email.value, { url: location.href, handleCodeInApp: true });
          localStorage.setItem('vayu-signin-email', email.value);
          status.textContent = `A sign-in link was sent to ${email.value}.`;
        }
      } catch (e) { fail(e); }
    });
    if (isSignInWithEmailLink(auth, location.href)) {
      const saved = localStorage.getItem('vayu-signin-email');
      if (saved) signInWithEmailLink(auth, saved, location.href).catch(fail);
    }
  }
  form.append(status);
  root.append(form);
}
