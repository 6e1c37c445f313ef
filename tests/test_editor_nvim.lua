-- Drives a real, headless Neovim with the tactful plugin, the way a person would: keys go
-- through nvim_input and are handled by Neovim's own main loop, and each step waits for what a
-- person would wait for. Results go to a JSON file that tests/test_editor_nvim*.py read; every
-- step is recorded even when an earlier one failed.
--
-- Environment: TACTFUL_E2E_CONFIG, a JSON file with {scenario, result, ...}. Scenarios:
--   session    the whole plugin against a real `tactful serve` (plugin on the runtimepath)
--   keys       the keys' fall-through to the user's mappings, without a server
--   installed  the plugin as Neovim loaded it from a package, configured by the user's
--              init.lua; edit, then quit
--   lazy       the README's lazy.nvim spec, its config() called with a plugin table as lazy.nvim
--              would pass it
--   llm        `completion.engine = "auto"` with a slow LLM (the fake provider): the local ghost
--              text first, then the LLM's in its place
--   next_edits after an edit and a pause, the next edit at its line; <Tab> applies it and the
--              next one appears; dismissing; an edit in another file; the keys falling through

local config = vim.json.decode(table.concat(vim.fn.readfile(vim.env.TACTFUL_E2E_CONFIG), "\n"))
if config.plugin then
  vim.opt.runtimepath:prepend(config.plugin)
end
vim.cmd("filetype on")
vim.o.swapfile = false
vim.o.shada = ""
-- Headless Neovim writes "-- INSERT --" to stderr, where the tests look for messages.
vim.o.showmode = false

local results = { steps = {}, events = {} }

local function save()
  local encoded = vim.json.encode(results)
  local handle = assert(io.open(config.result, "w"))
  handle:write(encoded)
  handle:close()
end

local function record_events()
  vim.api.nvim_create_autocmd("User", {
    pattern = {
      "TactfulShown",
      "TactfulAccepted",
      "TactfulRejected",
      "TactfulTyped",
      "TactfulStatus",
      "TactfulNextEditShown",
      "TactfulNextEditAccepted",
      "TactfulNextEditRejected",
    },
    callback = function(args)
      table.insert(results.events, { event = args.match, data = args.data or vim.empty_dict() })
    end,
  })
end

-- Coroutine plumbing: the driver yields to Neovim's main loop between checks so typed keys,
-- LSP messages and timers are processed exactly as in an interactive session.
local driver

local function sleep(ms)
  vim.defer_fn(function()
    assert(coroutine.resume(driver))
  end, ms)
  coroutine.yield()
end

local function wait_for(predicate, timeout_ms, what)
  local deadline = vim.uv.now() + timeout_ms
  while true do
    local value = predicate()
    if value then
      return value
    end
    if vim.uv.now() > deadline then
      error(("timed out after %d ms waiting for %s"):format(timeout_ms, what), 0)
    end
    sleep(25)
  end
end

local function events_since(n, name)
  local found = {}
  for i = n + 1, #results.events do
    if results.events[i].event == name then
      table.insert(found, results.events[i])
    end
  end
  return found
end

local function line(row)
  return vim.api.nvim_buf_get_lines(0, row, row + 1, false)[1]
end

local function keys(text)
  vim.api.nvim_input(text)
end

-- Run one step; its outcome (and its error, if any) lands in results.steps[name]. With
-- `restore`, the buffer gets its text back afterwards so the next step starts from the same file.
local function step(name, fn, restore)
  local outcome = { ok = false }
  results.steps[name] = outcome
  local buf = vim.api.nvim_get_current_buf()
  local original = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
  local started = vim.uv.now()
  local ok, err = pcall(fn, outcome)
  outcome.ms = vim.uv.now() - started
  outcome.ok = ok
  if not ok then
    outcome.error = tostring(err)
  end
  -- Leave each step in Normal mode with nothing pending.
  vim.api.nvim_input("<Esc>")
  sleep(100)
  if restore and vim.api.nvim_buf_is_valid(buf) then
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, original)
    sleep(100)
  end
  save()
end

local ghost = function()
  return require("tactful.ghost").current(0)
end

local function client()
  return vim.lsp.get_clients({ bufnr = 0, name = "tactful" })[1]
end

-- Open a fresh line below `row` (0-based), type `prefix`, and wait for ghost text.
local function ghost_after(row, prefix)
  local c = client()
  if not (c and c.server_capabilities.inlineCompletionProvider) then
    error("the server does not offer textDocument/inlineCompletion", 0)
  end
  vim.api.nvim_win_set_cursor(0, { row + 1, 0 })
  keys("o" .. prefix)
  return wait_for(ghost, 15000, "ghost text after typing " .. vim.inspect(prefix))
end

local scenarios = {}

function scenarios.session()
  -- The user's own <Tab>, as nvim-cmp users write it: an expr mapping that selects the next
  -- completion item while the menu shows and is a tab otherwise. It notes whether tactful's
  -- ghost text was showing when the key reached it.
  local user = { global_tab = 0, buffer_tab = 0, ghost_when_called = {} }
  results.user = user
  vim.keymap.set("i", "<Tab>", function()
    user.global_tab = user.global_tab + 1
    table.insert(user.ghost_when_called, ghost() ~= nil)
    if vim.fn.pumvisible() == 1 then
      return "<C-n>"
    end
    return "<Tab>"
  end, { expr = true, desc = "user: next completion item, else a tab" })

  local function setup(extra)
    require("tactful").setup(vim.tbl_deep_extend("force", {
      cmd = config.cmd,
      settings = config.settings,
      inline = { debounce_ms = 30 },
    }, extra or {}))
  end
  setup()
  record_events()
  vim.cmd.edit(vim.fn.fnameescape(config.file))
  local buf = vim.api.nvim_get_current_buf()

  step("attach", function(out)
    wait_for(function()
      local c = client()
      return c and c.initialized
    end, 20000, "the server to initialize")
    local caps = client().server_capabilities
    out.inline = caps.inlineCompletionProvider ~= nil
    out.code_actions = caps.codeActionProvider ~= nil
    out.commands = (caps.executeCommandProvider or {}).commands or {}
    out.root = client().config.root_dir
  end)

  step("status", function(out)
    -- Long work (indexing) shows while it runs; wait for the server to be idle.
    out.seen = {}
    out.line = wait_for(function()
      local line = require("tactful").status()
      if out.seen[#out.seen] ~= line then
        table.insert(out.seen, line)
      end
      return line == "tactful: local · unfiltered" and line
    end, 30000, "the statusline to name the engine and nothing else")
    out.events = #events_since(0, "TactfulStatus")
  end)

  -- Typed in one go, <Tab> comes before any ghost text could be asked for.
  local function tab_without_ghost(out, after)
    local before = #results.events
    local global_calls, buffer_calls = user.global_tab, user.buffer_tab
    vim.api.nvim_win_set_cursor(0, { config.complete.row + 1, 0 })
    keys("o<Tab>" .. after)
    sleep(300)
    local row = vim.api.nvim_win_get_cursor(0)[1] - 1
    out.line = line(row)
    out.global_calls = user.global_tab - global_calls
    out.buffer_calls = user.buffer_tab - buffer_calls
    out.ghost_when_called = user.ghost_when_called[#user.ghost_when_called]
    out.accepted = #events_since(before, "TactfulAccepted")
  end

  step("tab_without_ghost_text", function(out)
    tab_without_ghost(out, "x")
  end, true)

  step("ghost_text", function(out)
    local shown = ghost_after(config.complete.row, config.complete.prefix)
    out.text = shown.text
    out.id = shown.id
    out.extmarks = #vim.api.nvim_buf_get_extmarks(buf, require("tactful.ghost").ns, 0, -1, {})
  end, true)

  step("accept", function(out)
    local shown = ghost_after(config.complete.row, config.complete.prefix)
    local row = vim.api.nvim_win_get_cursor(0)[1] - 1
    local typed = line(row)
    local before = #results.events
    local calls = user.global_tab
    keys("<Tab>")
    local accepted = wait_for(function()
      return events_since(before, "TactfulAccepted")[1]
    end, 10000, "the accept command's answer")
    out.global_calls = user.global_tab - calls
    out.typed = typed
    out.shown = shown.text
    out.inserted = table.concat(vim.api.nvim_buf_get_lines(buf, row, row + #vim.split(shown.text, "\n"), false), "\n")
    out.cursor = vim.api.nvim_win_get_cursor(0)
    out.id = accepted.data.id
    out.shown_id = shown.id
    out.command_result = accepted.data.result
    out.command_error = accepted.data.error
    out.ghost_left = ghost() ~= nil
  end, true)

  step("type_through", function(out)
    local shown = ghost_after(config.complete.row, config.complete.prefix)
    local before = #results.events
    local first = shown.text:sub(1, 1)
    keys(first == "<" and "<lt>" or first)
    wait_for(function()
      local now = ghost()
      return now and now.text ~= shown.text
    end, 5000, "the ghost text to advance")
    sleep(200)
    local now = ghost()
    out.before = shown.text
    out.after = now and now.text
    out.same_id = now ~= nil and now.id == shown.id
    out.rejections = #events_since(before, "TactfulRejected")
  end, true)

  step("type_over", function(out)
    local shown = ghost_after(config.complete.row, config.complete.prefix)
    local before = #results.events
    local other = shown.text:sub(1, 1) == "~" and "!" or "~"
    keys(other)
    local rejected = wait_for(function()
      return events_since(before, "TactfulRejected")[1]
    end, 10000, "the rejection's answer")
    out.id = rejected.data.id
    out.shown_id = shown.id
    out.reason = rejected.data.reason
    out.command_result = rejected.data.result
    out.command_error = rejected.data.error
  end, true)

  step("accept_word", function(out)
    local shown = ghost_after(config.complete.row, config.complete.prefix)
    local row = vim.api.nvim_win_get_cursor(0)[1] - 1
    out.typed = line(row)
    local before = #results.events
    keys("<M-Right>")
    local accepted = wait_for(function()
      return events_since(before, "TactfulAccepted")[1]
    end, 10000, "the partial accept's answer")
    out.shown = shown.text
    out.line = line(row)
    out.partial = accepted.data.partial
    out.inserted = accepted.data.text
    out.accepted_length = accepted.data.accepted_length
    out.command_result = accepted.data.result
    out.command_error = accepted.data.error
    local rest = ghost()
    out.rest = rest and rest.text
  end, true)

  step("dismiss", function(out)
    local shown = ghost_after(config.complete.row, config.complete.prefix)
    local before = #results.events
    keys("<C-]>")
    local rejected = wait_for(function()
      return events_since(before, "TactfulRejected")[1]
    end, 10000, "the rejection's answer")
    out.reason = rejected.data.reason
    out.same_id = rejected.data.id == shown.id
    out.command_result = rejected.data.result
    out.command_error = rejected.data.error
    out.ghost_left = ghost() ~= nil
  end, true)

  step("disable", function(out)
    vim.cmd("TactfulDisable")
    out.status_off = require("tactful").status()
    out.enabled_after_disable = require("tactful").is_enabled()
    vim.api.nvim_win_set_cursor(0, { config.complete.row + 1, 0 })
    keys("o" .. config.complete.prefix)
    sleep(1000)
    out.ghost_while_off = ghost() ~= nil
    local calls = user.global_tab
    keys("<Tab>")
    sleep(200)
    out.global_calls = user.global_tab - calls
    keys("<Esc>")
    sleep(100)
    vim.cmd("TactfulToggle")
    out.enabled_after_toggle = require("tactful").is_enabled()
    out.status_on = require("tactful").status()
    vim.b.tactful_enabled = false
    out.enabled_in_buffer_turned_off = require("tactful").is_enabled()
    out.status_in_buffer_turned_off = require("tactful").status()
    vim.b.tactful_enabled = nil
  end, true)

  step("trigger", function(out)
    setup({ inline = { auto_trigger = false } })
    vim.api.nvim_win_set_cursor(0, { config.complete.row + 1, 0 })
    keys("o" .. config.complete.prefix)
    sleep(1000)
    out.ghost_before_trigger = ghost() ~= nil
    keys("<Cmd>TactfulTrigger<CR>")
    local shown = wait_for(ghost, 15000, "ghost text after :TactfulTrigger")
    out.text = shown.text
    setup()
  end, true)

  -- A snippet plugin's buffer-local <Tab> in the vsnip style: jump when it can, else a <Tab>
  -- that is remapped (so it would come back to tactful's mapping if nothing stopped it).
  vim.keymap.set("i", "<Plug>(user-jump)", "JUMP", { desc = "user: jump" })

  step("restart", function(out)
    vim.keymap.set("i", "<Tab>", function()
      user.buffer_tab = user.buffer_tab + 1
      return vim.g.user_can_jump == 1 and "<Plug>(user-jump)" or "<Tab>"
    end, { buffer = buf, expr = true, remap = true, desc = "user: jump, else a tab" })
    local before = client().id
    vim.cmd("TactfulRestart")
    wait_for(function()
      local c = client()
      return c and c.id ~= before and c.initialized
    end, 30000, "the restarted server to initialize")
    local tab = wait_for(function()
      local mapping = vim.fn.maparg("<Tab>", "i", false, true)
      return (mapping.desc or ""):match("^tactful") and mapping
    end, 10000, "tactful's <Tab> in the buffer again")
    out.desc = tab.desc
    out.new_client = client().id ~= before
  end)

  step("tab_runs_the_buffer_mapping", function(out)
    vim.g.user_can_jump = 1
    tab_without_ghost(out, "")
  end, true)

  step("tab_remapped_to_itself", function(out)
    vim.g.user_can_jump = 0
    tab_without_ghost(out, "x")
  end, true)

  step("accept_over_the_buffer_mapping", function(out)
    local shown = ghost_after(config.complete.row, config.complete.prefix)
    local buffer_calls = user.buffer_tab
    local before = #results.events
    keys("<Tab>")
    local accepted = wait_for(function()
      return events_since(before, "TactfulAccepted")[1]
    end, 10000, "the accept command's answer")
    out.same_id = accepted.data.id == shown.id
    out.command_result = accepted.data.result
    out.buffer_calls = user.buffer_tab - buffer_calls
  end, true)

  local function by_source(source)
    return vim.tbl_filter(function(d)
      return d.source == source
    end, vim.diagnostic.get(buf))
  end

  local function sources_seen()
    local seen = {}
    for _, d in ipairs(vim.diagnostic.get(buf)) do
      seen[tostring(d.source)] = true
    end
    return vim.tbl_keys(seen)
  end

  step("quality_diagnostics", function(out)
    -- The steps before left the buffer broken for a moment (an open call) and then restored
    -- it: wait for the findings of the restored text, not the syntax error of the broken one.
    local ok, err = pcall(wait_for, function()
      for _, d in ipairs(by_source("tactful.quality")) do
        if d.code == config.code_action.code then
          return true
        end
      end
    end, 20000, "tactful.quality diagnostics for " .. config.code_action.code)
    out.seen = sources_seen()
    if not ok then
      error(err, 0)
    end
    out.quality = vim.tbl_map(function(d)
      return { code = d.code, row = d.lnum, message = d.message }
    end, by_source("tactful.quality"))
  end)

  step("review_diagnostics", function(out)
    local ok, err = pcall(wait_for, function()
      return #by_source("tactful.review") > 0
    end, 20000, "tactful.review diagnostics")
    out.seen = sources_seen()
    if not ok then
      error(err, 0)
    end
    out.review = vim.tbl_map(function(d)
      return { row = d.lnum, message = d.message }
    end, by_source("tactful.review"))
  end)

  step("code_action", function(out)
    local before = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n")
    local wanted = config.code_action
    local target = wait_for(function()
      for _, d in ipairs(vim.diagnostic.get(buf)) do
        if d.source == "tactful.quality" and d.code == wanted.code then
          return d
        end
      end
    end, 20000, "the " .. wanted.code .. " finding")
    vim.api.nvim_win_set_cursor(0, { target.lnum + 1, target.col })
    out.titles = {}
    vim.lsp.buf.code_action({
      apply = true,
      -- The quality fix for the finding (review comments on the same line have code actions
      -- of their own).
      filter = function(action)
        table.insert(out.titles, action.title)
        for _, d in ipairs(action.diagnostics or {}) do
          if d.source == "tactful.quality" and d.code == wanted.code then
            return true
          end
        end
        return false
      end,
    })
    wait_for(function()
      return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n") ~= before
    end, 20000, "the code action to change the buffer")
    vim.cmd("silent write")
    out.file = table.concat(vim.fn.readfile(config.file), "\n")
  end)

  step("review_command", function(out)
    local commands = (client().server_capabilities.executeCommandProvider or {}).commands or {}
    if not vim.tbl_contains(commands, "tactful.reviewChanges") then
      error("the server does not offer the command tactful.reviewChanges", 0)
    end
    vim.fn.setqflist({}, "r")
    vim.cmd("TactfulReview")
    wait_for(function()
      return #vim.fn.getqflist() > 0
    end, 20000, "review comments in the quickfix list")
    out.items = vim.tbl_map(function(item)
      return { row = item.lnum, text = item.text }
    end, vim.fn.getqflist())
    vim.cmd("cclose")
  end)

  step("trust_command", function(out)
    vim.cmd("TactfulTrust")
    local trust_file = vim.env.XDG_DATA_HOME .. "/tactful/trusted.json"
    wait_for(function()
      return vim.fn.filereadable(trust_file) == 1
    end, 20000, "the trust list to be written")
    out.trusted = vim.json.decode(table.concat(vim.fn.readfile(trust_file), "\n")).folders
  end)

  step("stats_command", function(out)
    vim.cmd("TactfulStats")
    local stats = wait_for(function()
      local found = vim.fn.bufnr("tactful://stats")
      return found > 0 and found or nil
    end, 20000, "the statistics buffer")
    out.text = table.concat(vim.api.nvim_buf_get_lines(stats, 0, -1, false), "\n")
    vim.cmd("bwipeout! " .. stats)
  end)

  step("log", function(out)
    vim.cmd("TactfulLog")
    local log = wait_for(function()
      for _, b in ipairs(vim.api.nvim_list_bufs()) do
        if vim.api.nvim_buf_get_name(b):match("tactful%.log$") then
          return b
        end
      end
    end, 30000, "the log file to open")
    out.path = vim.api.nvim_buf_get_name(log)
    out.lines = vim.api.nvim_buf_line_count(log)
    out.current = vim.api.nvim_get_current_buf() == log
    vim.cmd("bwipeout! " .. log)
  end)

  step("health", function(out)
    vim.cmd("checkhealth tactful")
    local text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")
    out.text = text
    vim.cmd("bwipeout!")
  end)
end


-- Each case: a fresh buffer, the user's mapping as a case defines it, tactful's <Tab> (and
-- <C-]>) mapped over it with tactful.keys, then keys typed. `showing` stands for "a suggestion
-- shows": the handler registered for the test says so, as the ghost text's does.
function scenarios.keys()
  local keymod = require("tactful.keys")
  local showing = false
  local took = 0
  keymod.handle("accept", "test suggestion", function()
    if showing then
      took = took + 1
      return true
    end
    return false
  end)
  keymod.handle("dismiss", "test suggestion", function()
    return showing
  end)

  local function scratch()
    vim.cmd("enew!")
    local buf = vim.api.nvim_get_current_buf()
    vim.bo[buf].buftype = "nofile"
    vim.bo[buf].expandtab = false
    return buf
  end

  local function mapped(buf)
    keymod.map(buf, "i", "<Tab>", "accept", "accept the suggestion")
    keymod.map(buf, "i", "<C-]>", "dismiss", "dismiss the suggestion")
  end

  local function text(buf)
    return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n")
  end

  local function clear_user_mappings()
    for _, lhs in ipairs({ "<Tab>", "<Plug>(user-jump)" }) do
      pcall(vim.keymap.del, "i", lhs)
    end
    vim.cmd("silent! iunabbrev teh")
  end

  -- Run one case: `define(buf)` sets the user's mappings; `typed` is sent in Insert mode.
  local function case(name, define, typed, opts)
    opts = opts or {}
    step(name, function(out)
      clear_user_mappings()
      vim.v.errmsg = ""
      vim.g.user_calls = 0
      local buf = scratch()
      showing = opts.showing or false
      took = 0
      if not opts.map_first then
        define(buf)
      end
      mapped(buf)
      if opts.map_first then
        define(buf)
      end
      keys("i" .. typed .. "<Esc>")
      sleep(150)
      out.text = text(buf)
      out.user_calls = vim.g.user_calls
      out.took = took
      out.errors = vim.v.errmsg
      vim.v.errmsg = ""
      if opts.after then
        opts.after(buf, out)
      end
      showing = false
    end)
  end

  case("no_mapping", function() end, "a<Tab>b")

  case("global_lua_expr", function()
    vim.keymap.set("i", "<Tab>", function()
      vim.g.user_calls = vim.g.user_calls + 1
      return vim.fn.pumvisible() == 1 and "<C-n>" or "[lua-expr]"
    end, { expr = true })
  end, "a<Tab>b")

  case("global_vimscript_expr", function()
    vim.cmd([[inoremap <expr> <Tab> pumvisible() ? "\<C-n>" : "[vim-expr]"]])
  end, "a<Tab>b")

  case("global_plug", function()
    vim.cmd("inoremap <Plug>(user-jump) [plug]")
    vim.cmd([[imap <Tab> <Plug>(user-jump)]])
  end, "a<Tab>b")

  case("buffer_lua_callback", function(buf)
    vim.keymap.set("i", "<Tab>", function()
      vim.g.user_calls = vim.g.user_calls + 1
      vim.api.nvim_put({ "[callback]" }, "c", false, true)
    end, { buffer = buf })
  end, "a<Tab>b")

  case("buffer_expr_remapped_to_itself", function(buf)
    vim.cmd("inoremap <Plug>(user-jump) [jump]")
    vim.keymap.set("i", "<Tab>", function()
      vim.g.user_calls = vim.g.user_calls + 1
      return vim.g.user_can_jump == 1 and "<Plug>(user-jump)" or "<Tab>"
    end, { buffer = buf, expr = true, remap = true })
  end, "a<Cmd>let g:user_can_jump = 1<CR><Tab><Cmd>let g:user_can_jump = 0<CR><Tab>b")

  case("buffer_script_local", function()
    vim.cmd("source " .. vim.fn.fnameescape(config.script))
  end, "a<Tab>b")

  case("global_mapping_made_later", function()
    vim.cmd("inoremap <Tab> [later]")
  end, "a<Tab>b", { map_first = true })

  case("suggestion_showing", function()
    vim.keymap.set("i", "<Tab>", function()
      vim.g.user_calls = vim.g.user_calls + 1
      return "[user]"
    end, { expr = true })
  end, "a<Tab>b", { showing = true })

  -- nvim-cmp maps the key over tactful's on InsertEnter and, to fall back, feeds the rhs of
  -- the mapping it replaced ("itn"): tactful's must be replayable that way.
  local function like_nvim_cmp(buf)
    local replaced
    for _, mapping in ipairs(vim.api.nvim_buf_get_keymap(buf, "i")) do
      if vim.keycode(mapping.lhs) == vim.keycode("<Tab>") then
        replaced = mapping
      end
    end
    vim.keymap.set("i", "<Tab>", function()
      vim.g.user_calls = vim.g.user_calls + 1
      vim.api.nvim_feedkeys(vim.keycode(replaced.rhs or ""), "itn", true)
    end, { buffer = buf })
  end

  case("mapped_over_by_a_plugin_that_falls_back", function(buf)
    vim.keymap.set("i", "<Tab>", "[mine]", {})
    like_nvim_cmp(buf)
  end, "a<Tab>b", { map_first = true })

  case("mapped_over_by_a_plugin_that_falls_back_while_shown", like_nvim_cmp, "a<Tab>b", {
    map_first = true,
    showing = true,
  })

  case("abbreviation_through_dismiss_key", function()
    vim.cmd("inoreabbrev teh the")
  end, "teh<C-]>")

  case("unmap_gives_the_mapping_back", function(buf)
    vim.keymap.set("i", "<Tab>", "[mine]", { buffer = buf, desc = "user: mine" })
  end, "a<Tab>b", {
    after = function(buf, out)
      keymod.unmap(buf)
      out.desc_after_unmap = vim.fn.maparg("<Tab>", "i", false, true).desc
      keys("o<Tab><Esc>")
      sleep(150)
      out.text_after_unmap = text(buf)
    end,
  })

  step("macro", function(out)
    clear_user_mappings()
    vim.keymap.set("i", "<Tab>", "[m]", {})
    local buf = scratch()
    mapped(buf)
    keys("qqia<Tab>b<Esc>q")
    sleep(150)
    out.register = vim.fn.getreg("q")
    keys("o<Esc>@q")
    sleep(150)
    out.text = text(buf)
  end)
end

function scenarios.llm()
  require("tactful").setup({ cmd = config.cmd, settings = config.settings, inline = { debounce_ms = 30 } })
  record_events()
  vim.cmd.edit(vim.fn.fnameescape(config.file))

  step("attach", function(out)
    wait_for(function()
      local c = client()
      return c and c.initialized
    end, 20000, "the server to initialize")
    out.ok = true
  end)

  step("local_then_llm", function(out)
    local before = #results.events
    local first = ghost_after(config.complete.row, config.complete.prefix)
    out.first = first.text
    -- The LLM (litellm importing in the server, then the provider's delay) answers later; the
    -- server says so and the plugin asks again at the cursor, which has not moved.
    local second = wait_for(function()
      local now = ghost()
      return now and now.id ~= first.id and now
    end, 150000, "the LLM's ghost text in place of the local one")
    out.second = second.text
    out.row_col = { second.row, second.col, first.row, first.col }
    out.rejections = #events_since(before, "TactfulRejected")
    out.shown = #events_since(before, "TactfulShown")
  end)

  step("status", function(out)
    out.line = wait_for(function()
      local line = require("tactful").status()
      return line:match("^tactful: llm") and line
    end, 30000, "the statusline to say the LLM answers")
    -- What it says while the provider is down: the local engine answers, and why.
    require("tactful.status").server_said(client().id, {
      engine = "local",
      llm = { state = "down", label = "connection refused" },
      filter = { enabled = false },
    })
    out.down = require("tactful").status()
  end)
end

function scenarios.next_edits()
  -- The user's own Normal-mode <Tab> (a count of calls), which tactful's must leave alone while
  -- no next edit shows.
  vim.g.user_tab = 0
  vim.keymap.set("n", "<Tab>", "<Cmd>let g:user_tab += 1<CR>", { desc = "user: count" })
  require("tactful").setup({
    cmd = config.cmd,
    settings = config.settings,
    inline = { debounce_ms = 30 },
    next_edits = { debounce_ms = 300 },
  })
  record_events()
  vim.cmd.edit(vim.fn.fnameescape(config.file))
  local buf = vim.api.nvim_get_current_buf()
  local next_edit = require("tactful.next_edit")

  local function marks()
    return vim.tbl_map(function(mark)
      local details = mark[4]
      local text = {}
      for _, chunk in ipairs(details.virt_text or {}) do
        table.insert(text, chunk[1])
      end
      return {
        row = mark[2],
        col = mark[3],
        sign = details.sign_text and vim.trim(details.sign_text) or nil,
        text = table.concat(text),
        hl = details.hl_group,
      }
    end, vim.api.nvim_buf_get_extmarks(0, next_edit.ns, 0, -1, { details = true }))
  end

  -- The first next edit shown for the current buffer since event `before`.
  local function shown_after(before, what)
    local buf = vim.api.nvim_get_current_buf()
    return wait_for(function()
      for _, event in ipairs(events_since(before, "TactfulNextEditShown")) do
        if event.data.buf == buf then
          return event
        end
      end
    end, 20000, what)
  end

  step("attach", function(out)
    wait_for(function()
      local c = client()
      return c and c.initialized
    end, 20000, "the server to initialize")
    out.offered = next_edit.offered(client())
    out.normal_tab = vim.fn.maparg("<Tab>", "n", false, true).desc
    out.insert_tab = vim.fn.maparg("<Tab>", "i", false, true).desc
  end)

  step("shown_after_a_pause", function(out)
    local before = #results.events
    -- `d.has_key(k)` -> `k in d` on the second line, in Normal mode.
    vim.api.nvim_win_set_cursor(0, { 2, 7 })
    local typed_at = vim.uv.now()
    keys("c12lk in d<Esc>")
    local shown = shown_after(before, "a next edit after the change")
    out.waited_ms = vim.uv.now() - typed_at
    out.row = shown.data.row
    out.label = shown.data.label
    out.here = shown.data.here
    out.id = shown.data.id
    out.marks = marks()
    out.current = next_edit.current(buf)
    out.mode = vim.api.nvim_get_mode().mode
  end)

  step("tab_applies_it_and_the_next_appears", function(out)
    local shown = next_edit.current(buf)
    local before = #results.events
    local calls = vim.g.user_tab
    keys("<Tab>")
    local accepted = wait_for(function()
      return events_since(before, "TactfulNextEditAccepted")[1]
    end, 10000, "the accept command's answer")
    out.shown_id = shown and shown.id
    out.id = accepted.data.id
    out.result = accepted.data.result
    out.error = accepted.data.error
    out.line = line(shown.range.start.line)
    out.cursor = vim.api.nvim_win_get_cursor(0)
    out.user_calls = vim.g.user_tab - calls
    local following = shown_after(before, "the next one")
    out.next_row = following.data.row
    out.next_label = following.data.label
    out.marks = marks()
  end)

  step("dismiss_in_insert_mode", function(out)
    local shown = next_edit.current(buf)
    local before = #results.events
    -- Ghost text would take the key first (see ghost_text_takes_tab_first): none in this
    -- buffer. Entering Insert mode changes nothing: what shows stays.
    vim.b.tactful_enabled = false
    keys("A")
    sleep(100)
    out.still_shown = next_edit.current(buf) ~= nil
    keys("<C-]>")
    local rejected = wait_for(function()
      return events_since(before, "TactfulNextEditRejected")[1]
    end, 10000, "the dismissal's answer")
    out.same_id = shown ~= nil and rejected.data.id == shown.id
    out.reason = rejected.data.reason
    out.result = rejected.data.result
    out.error = rejected.data.error
    out.left = next_edit.current(buf)
    out.marks = #marks()
    out.line = vim.api.nvim_get_current_line()
    vim.b.tactful_enabled = nil
  end)

  step("tab_falls_through_when_nothing_shows", function(out)
    local calls = vim.g.user_tab
    local before = #results.events
    keys("<Tab>")
    sleep(300)
    out.user_calls = vim.g.user_tab - calls
    out.accepted = #events_since(before, "TactfulNextEditAccepted")
    out.text = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n")
  end)

  step("ghost_text_takes_tab_first", function(out)
    -- A next edit (the parameter `width` of `area` renamed `w`: its use follows), then typing
    -- where the inline completion has something to say.
    vim.cmd.edit(vim.fn.fnameescape(config.geometry))
    wait_for(function()
      return client()
    end, 20000, "tactful to attach to " .. config.geometry)
    local before = #results.events
    vim.api.nvim_win_set_cursor(0, { config.rename.row + 1, config.rename.col })
    keys("ciww<Esc>")
    local shown = shown_after(before, "the rename's next edit")
    out.rename_row = shown.data.row
    out.rename_label = shown.data.label
    before = #results.events
    vim.api.nvim_win_set_cursor(0, { config.complete.row + 1, 0 })
    keys("o" .. config.complete.prefix)
    local ghost_shown = wait_for(ghost, 15000, "ghost text")
    out.ghost = ghost_shown.text
    local both = shown_after(before, "the next edit again while the ghost text shows")
    out.next_row = both.data.row
    out.ghost_still = ghost() ~= nil
    local after = #results.events
    keys("<Tab>")
    wait_for(function()
      return events_since(after, "TactfulAccepted")[1]
    end, 10000, "the inline completion's accept")
    sleep(200)
    out.inline_accepted = #events_since(after, "TactfulAccepted")
    out.next_accepted = #events_since(after, "TactfulNextEditAccepted")
    out.rename_line = line(shown.data.row)
    -- Then, back in Normal mode, <Tab> takes the next edit.
    after = #results.events
    keys("<Esc>")
    shown_after(after, "the rename's next edit in Normal mode")
    keys("<Tab>")
    wait_for(function()
      return events_since(after, "TactfulNextEditAccepted")[1]
    end, 10000, "the next edit's accept")
    out.renamed_line = line(shown.data.row)
  end)

  step("another_file", function(out)
    vim.cmd.edit(vim.fn.fnameescape(config.lib))
    local lib = vim.api.nvim_get_current_buf()
    wait_for(function()
      return vim.lsp.get_clients({ bufnr = lib, name = "tactful" })[1]
    end, 20000, "tactful to attach to " .. config.lib)
    local before = #results.events
    -- Remove the parameter `retries`: the call in the other file follows.
    vim.api.nvim_win_set_cursor(0, { 1, 13 })
    keys("d9l")
    local shown = shown_after(before, "a next edit in another file")
    out.uri = shown.data.uri
    out.here = shown.data.here
    out.label = shown.data.label
    out.marks = marks()
    before = #results.events
    keys("<Tab>")
    local accepted = wait_for(function()
      return events_since(before, "TactfulNextEditAccepted")[1]
    end, 10000, "the accept command's answer")
    out.result = accepted.data.result
    out.error = accepted.data.error
    out.file = vim.api.nvim_buf_get_name(0)
    out.line = vim.api.nvim_get_current_line()
    out.cursor = vim.api.nvim_win_get_cursor(0)
  end)
end

-- After start-up as the user's config left it: open the file, edit, look around, and quit.
local function use_and_quit()
  vim.cmd("silent edit " .. vim.fn.fnameescape(config.file))
  step("attach", function(out)
    wait_for(function()
      local c = client()
      return c and c.initialized
    end, 30000, "the server to initialize")
    out.root = client().config.root_dir
    out.commands = {}
    for _, name in ipairs({
      "TactfulEnable",
      "TactfulDisable",
      "TactfulToggle",
      "TactfulTrigger",
      "TactfulRestart",
      "TactfulLog",
    }) do
      out.commands[name] = vim.fn.exists(":" .. name) == 2
    end
    out.tab = vim.fn.maparg("<Tab>", "i", false, true).desc
    -- What Neovim sends on didChangeConfiguration and answers to workspace/configuration.
    out.settings = client().settings or client().config.settings
    out.status = wait_for(function()
      local line = require("tactful").status()
      return line:match("^tactful: %a") and line ~= "tactful: starting" and line
    end, 10000, "the statusline")
  end)

  step("edit", function(out)
    vim.api.nvim_win_set_cursor(0, { config.complete.row + 1, 0 })
    keys("o" .. config.complete.prefix)
    -- Time for the server to answer the completion requests and publish diagnostics.
    sleep(1500)
    out.ghost = ghost() ~= nil
    keys("<Esc>")
    sleep(100)
    vim.cmd("silent write")
  end)

  step("help", function(out)
    local ok, err = pcall(vim.cmd, "help tactful-keys")
    out.error = not ok and tostring(err) or nil
    out.file = vim.fn.expand("%:t")
    out.line = vim.api.nvim_get_current_line()
    if ok then
      vim.cmd("helpclose")
    end
  end)

  results.messages = vim.api.nvim_exec2("messages", { output = true }).output
  results.servers = vim.api.nvim_get_proc_children(vim.fn.getpid())
  save()
  -- As a person quits: every buffer is written, so a plain :qa.
  vim.cmd("qa")
end

function scenarios.installed()
  use_and_quit()
end

function scenarios.lazy()
  -- The spec as the README writes it; lazy.nvim calls config(plugin, opts) with the plugin's
  -- clone in plugin.dir.
  local spec = assert(loadstring("return " .. config.lazy_spec))()
  local plugin = vim.tbl_extend("force", spec, { dir = vim.fs.normalize(spec.dir), name = "tactful" })
  step("config", function(out)
    spec.config(plugin, spec.opts or {})
    out.on_runtimepath = vim.tbl_contains(
      vim.opt.runtimepath:get(),
      vim.fs.normalize(config.repo .. "/editors/nvim")
    )
  end)
  use_and_quit()
end

-- A whole-run deadline: whatever happened, the results are written and Neovim exits.
vim.defer_fn(function()
  results.timed_out = true
  save()
  vim.cmd("qa!")
end, tonumber(config.deadline_ms) or 240000)

driver = coroutine.create(function()
  local ok, err = pcall(scenarios[config.scenario or "session"])
  if not ok then
    results.crashed = tostring(err)
  end
  save()
  vim.cmd("qa!")
end)
assert(coroutine.resume(driver))
