// The inventory model the rest of clonefleet consumes: hosts with resolved vars, groups as host sets.

/** One guest after parsing: `vars` are already merged by precedence (host > child group > parent > all). */
export interface Host {
  name: string;
  /** Where to connect: `ansible_host` if set, else the name. */
  address: string;
  port?: number;
  user?: string;
  vars: Record<string, string>;
  /** Every group the host belongs to, directly or through `:children`, in inventory order (`all` first). */
  groups: string[];
}

export interface Inventory {
  /** In order of first appearance in the file. */
  hosts: Map<string, Host>;
  /** Group name -> names of all its hosts (children included), in inventory order. Always has `all`. */
  groups: Map<string, Set<string>>;
  /** Group name -> its direct child groups as declared with `[g:children]`. */
  children: Map<string, Set<string>>;
  /** Host name -> where each of its vars was set (the winning definition): file and line. */
  origins: Map<string, Record<string, { file: string; line?: number }>>;
}

/** A variable as written in the file; the line is kept so a bad value can be reported where it was set. */
export interface VarDef {
  value: string;
  line: number;
  /** The file when it is not the inventory file being parsed (group_vars/, host_vars/, another file of a directory). */
  file?: string;
}

export interface HostDecl {
  name: string;
  line: number;
  vars: Map<string, VarDef>;
}

export interface GroupDecl {
  name: string;
  line: number;
  /** False while only `[g:vars]` has mentioned it: Ansible rejects vars for a group never defined. */
  defined: boolean;
  /** Set when the group was declared in another file than Declarations.file (a merged directory). */
  file?: string;
  hosts: Set<string>;
  children: Array<{ name: string; line: number; file?: string }>;
  vars: Map<string, VarDef>;
}

/** What the parsers produce: declarations in file order, before groups are resolved. */
export interface Declarations {
  file: string;
  hosts: Map<string, HostDecl>;
  groups: Map<string, GroupDecl>;
  /** Vars from group_vars/ and host_vars/ beside the inventory: above the inventory file's own (Ansible). */
  groupFileVars: Map<string, Map<string, VarDef>>;
  hostFileVars: Map<string, Map<string, VarDef>>;
}

export function newDeclarations(file: string): Declarations {
  const groups = new Map<string, GroupDecl>();
  for (const name of ['all', 'ungrouped']) {
    groups.set(name, { name, line: 0, defined: true, hosts: new Set(), children: [], vars: new Map() });
  }
  return { file, hosts: new Map(), groups, groupFileVars: new Map(), hostFileVars: new Map() };
}
