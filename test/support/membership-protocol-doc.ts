// PROTOCOL.md's section on membership changes (admin requests `membership` and `removed`, and the
// -v `config` event), written out by capture-protocol.ts. The frames are the shapes the peers send
// (test/integration/membership.test.ts exercises every one of them against real processes).

export const MEMBERSHIP_ADMIN_DOC = `## Membership: \`/admin\` \`membership\` and \`removed\`

\`raft_peer.ini [peers]\` lists every name a village may use; the cluster starts with the first N
(the N of \`npm run peer -- NAME N\` and \`npm run cluster -- N\`). The configuration in the log
decides who votes: the transport takes \`/raft\` connections from every name of the ini. A change
is asked of the leader (\`shared/membership-client.ts\` finds it, following \`leader\` hints) and
answered when it is done: \`join\` adds the peer as a learner, waits until its log reaches the
commit index, then promotes it; \`leave\` removes a voter or a learner. One change at a time.
\`timeoutMs\` (default 30000) bounds the wait; \`op\` is \`join\` or \`leave\` (not \`add\`: that is the
key-value command). The reply's \`config\` is the configuration after the change, \`index\` the
entry that completed it.

### join a newcomer (started with \`npm run peer -- peer4 3 --join\`)

\`\`\`json
{"type":"membership","id":"m1","op":"join","peer":"peer4"}
\`\`\`
\`\`\`json
{"type":"membership","id":"m1","ok":true,"op":"join","peer":"peer4","config":{"voters":["peer1","peer2","peer3","peer4"],"learners":[]},"index":48}
\`\`\`

### leave (the leader may remove itself: it answers, steps down and exits)

\`\`\`json
{"type":"membership","op":"leave","peer":"peer2"}
\`\`\`
\`\`\`json
{"type":"membership","ok":true,"op":"leave","peer":"peer2","config":{"voters":["peer1","peer3","peer4"],"learners":[]},"index":61}
\`\`\`

### refused: nothing was done

\`error\` is one of \`unknown_peer\` (not in the ini), \`already_member\`, \`not_member\`, \`in_flight\`
(another change is under way), \`not_leader\` (\`leader\` names the one this peer knows, or null),
\`timeout\` (a join whose learner has not caught up stays a learner: \`join\` again resumes it) and
\`refused\` (the core's reason, e.g. the last voter cannot leave). The leader adds its \`config\`.

\`\`\`json
{"type":"membership","ok":false,"op":"join","peer":"peer2","error":"already_member","message":"peer2 is a member (a voter) already","leader":"peer1","config":{"voters":["peer1","peer2","peer3","peer4"],"learners":[]}}
\`\`\`
\`\`\`json
{"type":"membership","ok":false,"op":"leave","peer":"peer2","error":"not_leader","message":"peer3 is not the leader; the leader is peer1","leader":"peer1"}
\`\`\`
\`\`\`json
{"type":"membership","ok":false,"op":"leave","peer":"peer3","error":"in_flight","message":"another change is under way (join peer5); try again when it is done","leader":"peer1","config":{"voters":["peer1","peer2","peer3","peer4"],"learners":["peer5"]}}
\`\`\`
\`\`\`json
{"type":"membership","op":"add","peer":"peer5"}
\`\`\`
\`\`\`json
{"type":"error","error":"bad_frame","message":"\\"op\\" must be join or leave, got \\"add\\""}
\`\`\`

### removed: the leader tells a peer its removal committed

The leader stops replicating to a removed peer the moment the change is in its log, so the peer
cannot learn it from its own log; once the change commits, the leader sends it this notice (a few
tries). The peer answers, logs why and exits (code 0), leaving its data on disk.

\`\`\`json
{"type":"removed","by":"peer1","index":61,"term":3}
\`\`\`
\`\`\`json
{"type":"removed","ok":true}
\`\`\`

### AppendEntries carrying a configuration entry (\`conf\`, \`data\` null): in force once in the log

\`\`\`json
{"type":"append_entries","from":"peer1","to":"peer2","term":3,"prevLogIndex":47,"prevLogTerm":3,"entries":[{"index":48,"term":3,"data":null,"conf":{"voters":["peer1","peer2","peer3","peer4"],"learners":[]}}],"leaderCommit":47,"rid":"peer1:1765060000000123"}
\`\`\`
`;

export const CONFIG_EVENT_DOC = `### config: the configuration in force changed

Sent after \`hello\` (with \`state\` and \`faults\`) and whenever the configuration in force on the
peer changes (the latest in its log, committed or not: dissertation §4.1). \`resync\` carries the
same as \`config\`. A name of the ini in neither list is not a member: a newcomer not added yet, or
a peer that left.

\`\`\`json
{"type":"config","voters":["peer1","peer2","peer3"],"learners":["peer4"],"peer":"peer2","t":1765060000000,"seq":812}
\`\`\`
`;
