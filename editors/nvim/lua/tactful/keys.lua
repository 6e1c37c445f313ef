--- Keys that act only while tactful shows something, and otherwise do what they did before.
---
--- A key is bound to one or more actions (`accept`, `accept_word`, `dismiss`, `next_edit`,
--- `next_edit_dismiss`). Whatever shows something registers a handler for an action with
--- `handle()`: the ghost text for the first three, the next-edit display for the others. When
--- the key is pressed its actions run in the order they were mapped, each action's handlers
--- highest priority first, and the first that returns true took the key. When none does, the
--- key falls through, as copilot.lua and nvim-cmp do it:
---
---   1. to the buffer-local mapping the key had when tactful mapped it (nvim-cmp's, a snippet
---      plugin's, yours), kept under a `<Plug>` name with every attribute it had (expr,
---      noremap, script context, Lua callback), so it runs exactly as before;
---   2. else to the global mapping of the key as it is at that moment (so one made after
---      tactful started counts too), copied the same way;
---   3. else to the key itself, not remapped.
---
--- A mapping that remaps to its own key (`imap <expr> <Tab> jumpable() ? "<Plug>(jump)" :
--- "<Tab>"`) would come back here; while a fallback runs, the key is sent as itself instead.
---
--- This module owns the buffer-local mappings it sets (their `desc` starts with "tactful: ")
--- and the `<Plug>(tactful-…)` mappings holding what they shadow. `unmap()` gives a buffer its
--- own mapping back.

local M = {}

local DESC = "tactful: "
local DONE = "<Plug>(tactful-fell-through)"

local handlers = {} -- action -> { { name, fn, priority, order } }
local mapped = {} -- buf -> key id -> { mode, lhs, actions, press, plug?, original? }
local presses = {} -- press number -> function run by a mapping
local falling = {} -- key id -> true while that key's fallback runs
local plugs = 0
local registered = 0
local reported = {}

local function id_of(mode, lhs)
  return mode .. "\0" .. vim.keycode(lhs)
end

local function is_ours(mapping)
  return type(mapping.desc) == "string" and mapping.desc:sub(1, #DESC) == DESC
end

--- Register `fn(buf) -> boolean` for an action under `name` (again to replace it, `nil` to
--- remove it). Higher `priority` runs first; equal ones in the order they were registered.
function M.handle(action, name, fn, priority)
  local list = handlers[action] or {}
  handlers[action] = list
  for i, handler in ipairs(list) do
    if handler.name == name then
      table.remove(list, i)
      break
    end
  end
  if fn then
    registered = registered + 1
    table.insert(list, { name = name, fn = fn, priority = priority or 0, order = registered })
    table.sort(list, function(a, b)
      if a.priority ~= b.priority then
        return a.priority > b.priority
      end
      return a.order < b.order
    end)
  end
end

--- Run an action's handlers for `buf`; true when one of them took the key.
function M.run(action, buf)
  for _, handler in ipairs(handlers[action] or {}) do
    local ok, took = pcall(handler.fn, buf)
    if not ok then
      -- A broken handler must not eat the key: say so once and let the key fall through.
      if not reported[handler.name] then
        reported[handler.name] = true
        vim.notify(("tactful: %s failed: %s"):format(handler.name, took), vim.log.levels.ERROR)
      end
    elseif took then
      return true
    end
  end
  return false
end

local function next_plug()
  plugs = plugs + 1
  return ("<Plug>(tactful-fallback-%d)"):format(plugs)
end

--- Copy a mapping (a `maparg()` dictionary) to `plug`, keeping every attribute.
local function copy_to(plug, mode, mapping)
  local copy = vim.deepcopy(mapping)
  copy.lhs = plug
  copy.lhsraw = vim.keycode(plug)
  copy.lhsrawalt = nil
  copy.mode = mode
  copy.mode_bits = nil
  vim.fn.mapset(mode, false, copy)
end

--- Queue the end of a fallback: it runs after the fallback's keys, in whatever mode they left.
local function feed_done()
  if next(vim.fn.maparg(DONE, "i", false, true)) == nil then
    vim.keymap.set({ "", "!", "t", "l" }, DONE, function()
      falling = {}
    end, { desc = DESC .. "a fallback has run" })
  end
  vim.api.nvim_feedkeys(vim.keycode(DONE), "im", false)
end

local function feed(keys, remap)
  -- "i": before whatever is already typed ahead. No "t": the keys are not recorded in a macro
  -- (the key that was typed is), so replaying a macro runs this mapping again, not twice.
  vim.api.nvim_feedkeys(keys, remap and "im" or "in", false)
end

--- The global mapping of a key as it is now, tactful's own excepted.
local function global_mapping(mode, lhs)
  local key = vim.keycode(lhs)
  for _, mapping in ipairs(vim.api.nvim_get_keymap(mode)) do
    if vim.keycode(mapping.lhs) == key and not is_ours(mapping) then
      return mapping
    end
  end
  return nil
end

local global_plugs = {} -- key id -> <Plug> name for the copy of the global mapping

--- Do what the key did before tactful mapped it in `buf`.
function M.fall_through(buf, mode, lhs)
  local id = id_of(mode, lhs)
  local entry = (mapped[buf] or {})[id]
  if falling[id] then
    -- The fallback remapped to this very key: the key itself was meant. (The end is queued
    -- again in case the first one was flushed by an error in the fallback.)
    feed_done()
    feed(vim.keycode(lhs), false)
    return
  end
  local plug = entry and entry.plug
  if not plug then
    local mapping = global_mapping(mode, lhs)
    if mapping then
      plug = global_plugs[id] or next_plug()
      global_plugs[id] = plug
      copy_to(plug, mode, mapping)
    end
  end
  if not plug then
    feed(vim.keycode(lhs), false)
    return
  end
  falling[id] = true
  -- Fed last, runs first ("i" puts keys before what is queued): the fallback, then its end.
  feed_done()
  feed(vim.keycode(plug), true)
end

--- Map `lhs` in `mode` for `buf` to `action`; the mapping it shadows is kept for falling through.
--- Mapping a key again adds the action after those it has: a press runs them in that order
--- (the inline completion's `accept`, then `next_edit` on the same `<Tab>`).
function M.map(buf, mode, lhs, action, desc)
  if not lhs or lhs == "" then
    return
  end
  local id = id_of(mode, lhs)
  mapped[buf] = mapped[buf] or {}
  local known = mapped[buf][id]
  if known then
    if not vim.tbl_contains(known.actions, action) then
      table.insert(known.actions, action)
    end
    return
  end
  local entry = { mode = mode, lhs = lhs, actions = { action } }
  vim.api.nvim_buf_call(buf, function()
    local existing = vim.fn.maparg(lhs, mode, false, true)
    if existing.buffer == 1 and not is_ours(existing) then
      entry.original = existing
      entry.plug = next_plug()
      copy_to(entry.plug, mode, existing)
    end
  end)
  mapped[buf][id] = entry
  entry.press = #presses + 1
  presses[entry.press] = function()
    for _, each in ipairs(entry.actions) do
      if M.run(each, buf) then
        return
      end
    end
    M.fall_through(buf, mode, lhs)
  end
  -- A <Cmd> string, not a Lua callback: plugins that map the key over tactful's later
  -- (nvim-cmp on InsertEnter) fall back to a mapping by feeding its rhs.
  local rhs = ("<Cmd>lua require('tactful.keys').press(%d)<CR>"):format(entry.press)
  vim.keymap.set(mode, lhs, rhs, { buffer = buf, silent = true, desc = DESC .. (desc or action) })
end

--- What a mapping set by `map()` runs.
function M.press(number)
  local run = presses[number]
  if run then
    run()
  end
end

--- Remove tactful's mappings from `buf` and give it back the mappings they shadowed.
function M.unmap(buf)
  local entries = mapped[buf]
  mapped[buf] = nil
  for _, entry in pairs(entries or {}) do
    presses[entry.press] = nil
  end
  if not entries or not vim.api.nvim_buf_is_valid(buf) then
    return
  end
  -- pcall: the buffer may be on its way out (detached because it is being wiped).
  pcall(vim.api.nvim_buf_call, buf, function()
    for _, entry in pairs(entries) do
      local current = vim.fn.maparg(entry.lhs, entry.mode, false, true)
      -- A mapping made over tactful's since then is the user's choice: leave it.
      if current.buffer == 1 and is_ours(current) then
        pcall(vim.keymap.del, entry.mode, entry.lhs, { buffer = buf })
        if entry.original then
          vim.fn.mapset(entry.mode, false, entry.original)
        end
      end
      if entry.plug then
        pcall(vim.keymap.del, entry.mode, entry.plug, { buffer = buf })
      end
    end
  end)
end

--- What a key falls through to in `buf`, for `:checkhealth`: a description, or nil for the key
--- itself.
function M.fallback_of(buf, mode, lhs)
  local entry = (mapped[buf] or {})[id_of(mode, lhs)]
  local mapping = entry and entry.original or global_mapping(mode, lhs)
  if not mapping then
    return nil
  end
  local scope = (entry and entry.original) and "buffer-local" or "global"
  local what = mapping.desc or mapping.rhs or "a Lua function"
  return ("%s mapping (%s)"):format(scope, what)
end

--- Whether tactful mapped `lhs` in `buf`.
function M.is_mapped(buf, mode, lhs)
  return (mapped[buf] or {})[id_of(mode, lhs)] ~= nil
end

return M
