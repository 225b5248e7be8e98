// Who is signed in, and their role (the `role` custom claim the rules
// read; docs/security.md "Who is who").
let current = { uid: null, role: '', email: '' };

export function session() {
  return current;
}

export function setSession(s) {
  current = { ...s };
  document.body.dataset.role = current.role || 'none';
}
