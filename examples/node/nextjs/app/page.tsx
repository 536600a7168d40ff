// The routes are the example; this page only says where they are.
export default function Home() {
  return (
    <main>
      <h1>Sipp on Next.js</h1>
      <p>
        <code>POST /api/sipp/query</code> speaks the Sipp gateway profile (JSON or SSE);{' '}
        <code>POST /api/sipp/stream</code> streams plain text.
      </p>
    </main>
  );
}
